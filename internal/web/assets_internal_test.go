package web

import (
	"html/template"
	"strings"
	"testing"
	"testing/fstest"
)

// TestAssetURLsAreInlinedWhenTheTemplatesAreParsed: {{asset "name"}}
// becomes the file's versioned URL as text wherever it stands (in if,
// with, range and else branches too); a name that is not a static file
// fails the parse, not a render; an asset call that is not a literal
// name still works, through the function.
func TestAssetURLsAreInlinedWhenTheTemplatesAreParsed(t *testing.T) {
	a, err := newAssets(fstest.MapFS{"css/app.css": {Data: []byte("body{}")}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.url("css/app.css")
	if err != nil || !strings.HasPrefix(want, "/static/css/app.css?v=") {
		t.Fatalf("url = %q, %v", want, err)
	}
	parse := func(text string) (*template.Template, error) {
		tmpl, err := template.New("t").Funcs(template.FuncMap{"asset": a.url}).Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		return tmpl, a.inline(tmpl)
	}
	tmpl, err := parse(`<link href="{{asset "css/app.css"}}">{{if .}}{{with .}}<a href="{{asset "css/app.css"}}">{{end}}{{else}}{{range .}}{{end}}<b>{{asset "css/app.css"}}</b>{{end}}{{define "x"}}{{asset "css/app.css"}}{{end}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tmpl.Templates() {
		if s := tt.Tree.Root.String(); strings.Contains(s, "asset") {
			t.Errorf("template %s still calls asset: %s", tt.Name(), s)
		}
	}
	var out strings.Builder
	if err := tmpl.Execute(&out, true); err != nil || out.String() != `<link href="`+want+`"><a href="`+want+`">` {
		t.Errorf("render = %q, %v", out.String(), err)
	}

	if _, err := parse(`<link href="{{asset "css/nope.css"}}">`); err == nil || !strings.Contains(err.Error(), "css/nope.css") {
		t.Errorf("an unknown asset parsed: %v", err)
	}

	tmpl, _ = parse(`<link href="{{asset .}}">`)
	out.Reset()
	if err := tmpl.Execute(&out, "css/app.css"); err != nil || out.String() != `<link href="`+want+`">` {
		t.Errorf("render through the function = %q, %v", out.String(), err)
	}
}
