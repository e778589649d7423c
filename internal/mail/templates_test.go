package mail_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/launchkit/launchkit/internal/mail"
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
