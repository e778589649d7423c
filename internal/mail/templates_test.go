package mail_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/templates"
)

// emailFile is an emails/NAME.txt with a subject and a text block.
func emailFile(subject, text string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(`{{define "subject"}}` + subject + `{{end}}{{define "text"}}` + text + `{{end}}`)}
}

// TestTemplatesRenderSubjectAndText: a template's subject (trimmed) and
// text are rendered for one recipient, unescaped (mail is not HTML).
func TestTemplatesRenderSubjectAndText(t *testing.T) {
	tmpls, err := mail.NewTemplates(fstest.MapFS{
		"emails/welcome.txt": emailFile("\n  Welcome, {{.Name}}  \n", "Hello {{.Name}} & <friends>\n"),
		"emails/notes.md":    {Data: []byte("not a template")},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := tmpls.Message("welcome", "ada@example.com", map[string]string{"Name": "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	want := mail.Message{To: []string{"ada@example.com"}, Subject: "Welcome, Ada", Text: "Hello Ada & <friends>\n"}
	if len(m.To) != 1 || m.To[0] != want.To[0] || m.Subject != want.Subject || m.Text != want.Text || m.HTML != "" {
		t.Errorf("Message = %+v, want %+v", m, want)
	}
	if _, err := tmpls.Message("notes", "ada@example.com", nil); err == nil || !strings.Contains(err.Error(), `no email template "notes"`) {
		t.Errorf("a name with no .txt template: err = %v", err)
	}
}

// TestBrokenTemplatesAreNamedErrors: a template that does not parse or
// lacks a block fails NewTemplates, naming the file; one whose data does
// not fit fails Message, naming the template and the block.
func TestBrokenTemplatesAreNamedErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file *fstest.MapFile
		want string
	}{
		{"unparsable", emailFile("{{.Name", "text"), "email template emails/broken.txt:"},
		{"no subject", &fstest.MapFile{Data: []byte(`{{define "text"}}hi{{end}}`)}, `email template emails/broken.txt has no "subject" block`},
		{"no text", &fstest.MapFile{Data: []byte(`{{define "subject"}}hi{{end}}`)}, `email template emails/broken.txt has no "text" block`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mail.NewTemplates(fstest.MapFS{"emails/broken.txt": tc.file})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewTemplates = %v, want an error containing %q", err, tc.want)
			}
		})
	}

	tmpls, err := mail.NewTemplates(fstest.MapFS{
		"emails/subject.txt": emailFile("{{.Missing}}", "fine"),
		"emails/text.txt":    emailFile("fine", "{{.Missing}}"),
	})
	if err != nil {
		t.Fatal(err)
	}
	type data struct{ Name string }
	for name, want := range map[string]string{"subject": "email subject: subject:", "text": "email text: text:"} {
		if _, err := tmpls.Message(name, "ada@example.com", data{"Ada"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Message(%s) with data lacking a field = %v, want an error containing %q", name, err, want)
		}
	}
}

// layoutFile is a small EmailLayout: the subject as title, the app name,
// the body and a "button".
var layoutFile = &fstest.MapFile{Data: []byte(`{{define "layout"}}<title>{{template "subject" .}}</title><b>{{.AppName}}</b>{{template "body" .}}{{end}}` +
	`{{define "button"}}<a href="{{.URL}}">{{.Label}}</a> {{.URL}}{{end}}`)}

// TestTemplatesRenderHTMLInTheLayout: an emails/NAME.html beside the .txt
// gives the message an HTML part, its body rendered in the layout, with
// the subject as its title; what it is given is escaped as HTML (and a
// link that is no web address is not made one), while the subject and
// text stay as they are.
func TestTemplatesRenderHTMLInTheLayout(t *testing.T) {
	tmpls, err := mail.NewTemplates(fstest.MapFS{
		mail.EmailLayout:     layoutFile,
		"emails/welcome.txt": emailFile("Welcome, {{.Name}}", "Hello {{.Name}}: {{.Link}}\n"),
		"emails/welcome.html": {Data: []byte(`{{define "body"}}<p>Hello {{.Name}}</p>` +
			`{{template "button" (action "Start" .Link)}}{{end}}`)},
		"emails/plain.txt": emailFile("Plain", "Only text\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]string{"Name": `<script>alert("Ada")</script>`, "AppName": "Kit & Co", "Link": "https://example.com/start?a=1&b=2"}
	m, err := tmpls.Message("welcome", "ada@example.com", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := `Welcome, <script>alert("Ada")</script>`; m.Subject != want {
		t.Errorf("Subject = %q, want %q", m.Subject, want)
	}
	if want := "Hello <script>alert(\"Ada\")</script>: https://example.com/start?a=1&b=2\n"; m.Text != want {
		t.Errorf("Text = %q, want %q", m.Text, want)
	}
	want := `<title>Welcome, &lt;script&gt;alert(&#34;Ada&#34;)&lt;/script&gt;</title><b>Kit &amp; Co</b>` +
		`<p>Hello &lt;script&gt;alert(&#34;Ada&#34;)&lt;/script&gt;</p>` +
		`<a href="https://example.com/start?a=1&amp;b=2">Start</a> https://example.com/start?a=1&amp;b=2`
	if m.HTML != want {
		t.Errorf("HTML =\n%s\nwant\n%s", m.HTML, want)
	}

	data["Link"] = "javascript:alert(1)"
	if m, err := tmpls.Message("welcome", "ada@example.com", data); err != nil || strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("a javascript: link = %q, %v; want it made harmless", m.HTML, err)
	}
	if m, err := tmpls.Message("plain", "ada@example.com", nil); err != nil || m.Text != "Only text\n" || m.HTML != "" {
		t.Errorf("a mail with no .html = %+v, %v; want text only", m, err)
	}
}

// TestBrokenHTMLTemplatesAreNamedErrors: an .html without its .txt (every
// mail has a text part), without a "body" block or without the layout
// fails NewTemplates, naming the file; one whose data does not fit fails
// Message.
func TestBrokenHTMLTemplatesAreNamedErrors(t *testing.T) {
	body := &fstest.MapFile{Data: []byte(`{{define "body"}}<p>{{.Name}}</p>{{end}}`)}
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no text", fstest.MapFS{mail.EmailLayout: layoutFile, "emails/hi.html": body}, "email template emails/hi.html has no emails/hi.txt"},
		{"no body", fstest.MapFS{mail.EmailLayout: layoutFile, "emails/hi.txt": emailFile("s", "t"), "emails/hi.html": {Data: []byte("<p>hi</p>")}}, `email template emails/hi.html has no "body" block`},
		{"no layout", fstest.MapFS{"emails/hi.txt": emailFile("s", "t"), "emails/hi.html": body}, "email template emails/hi.html:"},
		{"unparsable", fstest.MapFS{mail.EmailLayout: layoutFile, "emails/hi.txt": emailFile("s", "t"), "emails/hi.html": {Data: []byte(`{{define "body"}}{{.Name{{end}}`)}}, "email template emails/hi.html:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mail.NewTemplates(tc.fsys); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewTemplates = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	tmpls, err := mail.NewTemplates(fstest.MapFS{mail.EmailLayout: layoutFile, "emails/hi.txt": emailFile("s", "t"), "emails/hi.html": body})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpls.Message("hi", "ada@example.com", struct{ AppName string }{"Kit"}); err == nil || !strings.Contains(err.Error(), "email hi: html:") {
		t.Errorf("Message with data lacking a field = %v, want an html error", err)
	}
}

// TestAccountMailsHaveAnEscapedHTMLPart: each of the application's
// account mails has an HTML part in the shared layout — the app's name,
// light and dark colour schemes, each link as a button and written out —
// in which an address or app name holding markup is escaped.
func TestAccountMailsHaveAnEscapedHTMLPart(t *testing.T) {
	tmpls, err := mail.NewTemplates(templates.FS)
	if err != nil {
		t.Fatal(err)
	}
	const hostile = `<script>alert(1)</script>`
	link := "https://kit.example/user/confirm-email/Ab-c_d"
	for name, links := range map[string][]string{
		"confirm-email":      {link},
		"reset-password":     {link},
		"already-registered": {"https://kit.example/user/sign-in", "https://kit.example/user/forgot-password"},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := tmpls.Message(name, "ada@example.com", map[string]any{
				"AppName": "Kit" + hostile, "Email": "ada" + hostile + "@example.com", "Link": link, "Expires": "1 hour",
				"SignIn": links[0], "ForgotPassword": links[len(links)-1],
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(m.HTML, "<script") || !strings.Contains(m.HTML, "Kit&lt;script&gt;") || !strings.Contains(m.HTML, "ada&lt;script&gt;alert(1)&lt;/script&gt;@example.com") {
				t.Errorf("markup in the app name or address is not escaped:\n%s", m.HTML)
			}
			for _, want := range []string{"<!DOCTYPE html>", `<meta name="color-scheme" content="light dark">`, `<meta name="supported-color-schemes" content="light dark">`, `<table role="presentation"`} {
				if !strings.Contains(m.HTML, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			for _, l := range links {
				if n := strings.Count(m.HTML, `href="`+l+`"`); n != 2 || !strings.Contains(m.HTML, ">"+l+"</a>") {
					t.Errorf("link %s is in %d hrefs (want a button and a written-out link):\n%s", l, n, m.HTML)
				}
				if !strings.Contains(m.Text, l) {
					t.Errorf("the text part lacks %s", l)
				}
			}
		})
	}
}
