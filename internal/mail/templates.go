package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"strings"
	"text/template"
)

// EmailLayout is the HTML layout every emails/NAME.html is rendered in:
// it defines "layout", which calls the mail's "subject" (as the title)
// and its "body".
const EmailLayout = "emails/layout/mail.html"

// Action is a link an HTML mail asks its reader to follow: the layout's
// "button" template shows it as a button with its address below, for
// clients that show no button and readers who would rather copy it.
type Action struct{ Label, URL string }

// emailFuncs are the functions of the HTML templates: action makes an
// Action, for {{template "button" (action "Confirm" .Link)}}.
var emailFuncs = htmltemplate.FuncMap{
	"action": func(label, url string) Action { return Action{label, url} },
}

// Templates renders the application's emails. Each file emails/NAME.txt
// holds a "subject" and a "text" block (text/template: the text part is
// not HTML, so nothing is escaped). An emails/NAME.html next to it holds
// a "body" block, rendered with html/template (everything it is given is
// escaped) inside EmailLayout: the mail then has an HTML part as well.
// They are parsed once, by NewTemplates.
type Templates struct {
	byName map[string]*template.Template
	html   map[string]*htmltemplate.Template
}

// NewTemplates parses every emails/*.txt of fsys, and every
// emails/*.html with EmailLayout.
func NewTemplates(fsys fs.FS) (*Templates, error) {
	files, err := fs.Glob(fsys, "emails/*.txt")
	if err != nil {
		return nil, err
	}
	t := &Templates{byName: map[string]*template.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, file := range files {
		tmpl, err := template.ParseFS(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("email template %s: %w", file, err)
		}
		for _, block := range []string{"subject", "text"} {
			if tmpl.Lookup(block) == nil {
				return nil, fmt.Errorf("email template %s has no %q block", file, block)
			}
		}
		t.byName[strings.TrimSuffix(path.Base(file), ".txt")] = tmpl
	}
	htmlFiles, err := fs.Glob(fsys, "emails/*.html")
	if err != nil {
		return nil, err
	}
	for _, file := range htmlFiles {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if t.byName[name] == nil {
			return nil, fmt.Errorf("email template %s has no emails/%s.txt: every mail has a text part", file, name)
		}
		// The .txt is parsed in too, for its "subject" (the HTML's title,
		// escaped here as HTML); its "text" is never run as HTML.
		tmpl, err := htmltemplate.New(path.Base(EmailLayout)).Funcs(emailFuncs).ParseFS(fsys, EmailLayout, "emails/"+name+".txt", file)
		if err != nil {
			return nil, fmt.Errorf("email template %s: %w", file, err)
		}
		if tmpl.Lookup("body") == nil {
			return nil, fmt.Errorf("email template %s has no %q block", file, "body")
		}
		if tmpl.Lookup("layout") == nil {
			return nil, fmt.Errorf("email layout %s has no %q block", EmailLayout, "layout")
		}
		t.html[name] = tmpl
	}
	return t, nil
}

// Message renders template name for one recipient: its subject, its text
// and, when it has one, its HTML.
func (t *Templates) Message(name, to string, data any) (Message, error) {
	tmpl, ok := t.byName[name]
	if !ok {
		return Message{}, fmt.Errorf("no email template %q", name)
	}
	var subject, text, html bytes.Buffer
	if err := tmpl.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("email %s: subject: %w", name, err)
	}
	if err := tmpl.ExecuteTemplate(&text, "text", data); err != nil {
		return Message{}, fmt.Errorf("email %s: text: %w", name, err)
	}
	if h := t.html[name]; h != nil {
		if err := h.ExecuteTemplate(&html, "layout", data); err != nil {
			return Message{}, fmt.Errorf("email %s: html: %w", name, err)
		}
	}
	return Message{To: []string{to}, Subject: strings.TrimSpace(subject.String()), Text: text.String(), HTML: html.String()}, nil
}
