package mail

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"
)

// Templates renders the application's emails. Each file emails/NAME.txt
// holds a "subject" and a "text" block (text/template: mail is not HTML,
// so nothing is escaped); they are parsed once, by NewTemplates.
type Templates struct {
	byName map[string]*template.Template
}

// NewTemplates parses every emails/*.txt of fsys.
func NewTemplates(fsys fs.FS) (*Templates, error) {
	files, err := fs.Glob(fsys, "emails/*.txt")
	if err != nil {
		return nil, err
	}
	t := &Templates{byName: map[string]*template.Template{}}
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
	return t, nil
}

// Message renders template name for one recipient.
func (t *Templates) Message(name, to string, data any) (Message, error) {
	tmpl, ok := t.byName[name]
	if !ok {
		return Message{}, fmt.Errorf("no email template %q", name)
	}
	var subject, text bytes.Buffer
	if err := tmpl.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("email %s: subject: %w", name, err)
	}
	if err := tmpl.ExecuteTemplate(&text, "text", data); err != nil {
		return Message{}, fmt.Errorf("email %s: text: %w", name, err)
	}
	return Message{To: []string{to}, Subject: strings.TrimSpace(subject.String()), Text: text.String()}, nil
}
