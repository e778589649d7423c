package web

import (
	"html/template"
	"strings"
	"testing"
)

func TestNavCurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, path, want string }{
		{"/", "/", `aria-current="page"`},
		{"/", "/widgets", ""}, // "/" is current only on itself
		{"/widgets", "/widgets", `aria-current="page"`},
		{"/widgets", "/widgets/3/edit", `aria-current="true"`},
		{"/widgets", "/widgetsx", ""},
		{"/widgets", "/", ""},
		{"/admin", "/admin/users", `aria-current="true"`},
		{"/admin/users", "/admin", ""},
	} {
		if got := navCurrentAttr(tc.prefix, tc.path); got != tc.want {
			t.Errorf("navCurrentAttr(%q, %q) = %q, want %q", tc.prefix, tc.path, got, tc.want)
		}
	}
}

// markCurrent resolves what navCurrent writes, and only that.
func TestMarkCurrent(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("nav").Funcs(template.FuncMap{"navCurrent": navCurrent}).Parse(
		`<a href="/" {{navCurrent "/"}}>Home</a><a href="/w" {{navCurrent "/w"}}>W</a><p>{{.}}</p>`))
	var b strings.Builder
	if err := tmpl.Execute(&b, `data-nav-current="/w"`); err != nil { // data cannot forge a marker
		t.Fatal(err)
	}
	got := string(markCurrent([]byte(b.String()), "/w/1"))
	want := `<a href="/">Home</a><a href="/w" aria-current="true">W</a><p>data-nav-current=&#34;/w&#34;</p>`
	if got != want {
		t.Errorf("markCurrent = %s\nwant          %s", got, want)
	}
	if page := []byte("<p>nothing to mark</p>"); string(markCurrent(page, "/")) != string(page) {
		t.Error("a page without markers changed")
	}
}

func TestConfirmAndFieldHelpers(t *testing.T) {
	t.Parallel()
	for label, yes := range map[string]string{"Delete": "Yes, delete", "Revoke": "Yes, revoke", "API key": "Yes, API key", "Sign this user out everywhere": "Yes, sign this user out everywhere"} {
		if c := confirm(label, "/x", "?"); c.Yes != yes || c.Icon != "trash" {
			t.Errorf("confirm(%q) = %+v, want Yes %q", label, c, yes)
		}
	}
	if c := confirm("Sign out", "/x", "?", "log-out"); c.Icon != "log-out" {
		t.Errorf("icon %q", c.Icon)
	}
	for _, tc := range []struct {
		hint    bool
		problem string
		want    template.HTMLAttr
	}{
		{false, "", ""},
		{true, "", ` aria-describedby="f-hint"`},
		{false, "bad", ` aria-describedby="f-error" aria-invalid="true"`},
		{true, "bad", ` aria-describedby="f-hint f-error" aria-invalid="true"`},
	} {
		if got := fieldAria("f", tc.hint, tc.problem); got != tc.want {
			t.Errorf("fieldAria(f, %v, %q) = %q, want %q", tc.hint, tc.problem, got, tc.want)
		}
	}
}

// The field-error partial, with an id (fieldError) and in its older,
// bare form, which generated code and the guide use.
func TestFieldErrorPartial(t *testing.T) {
	t.Parallel()
	ts, err := newTemplateSet("test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ts.get("errors/error.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data any
		want string
	}{
		{fieldError("email", "Enter an address."), `<p class="field-error" id="email-error"><svg class="icon" aria-hidden="true" focusable="false"><use href="/static/icons.svg?v=`},
		{fieldError("email", ""), ``},
		{"Too long.", `<p class="field-error">Too long.</p>`},
		{"", ``},
	} {
		var b strings.Builder
		if err := p.tmpl.ExecuteTemplate(&b, "field-error", tc.data); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); !strings.HasPrefix(got, tc.want) || (tc.want == "" && got != "") {
			t.Errorf("field-error %#v = %q, want %q…", tc.data, got, tc.want)
		}
	}
}

func TestPaginationPartial(t *testing.T) {
	t.Parallel()
	ts, err := newTemplateSet("test")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ts.get("errors/error.html")
	if err != nil {
		t.Fatal(err)
	}
	url := func(n int) string { return "/widgets?page=" + string(rune('0'+n)) }
	for _, tc := range []struct {
		pager      Pager
		want, lack []string
	}{
		{NewPager(2, 3, url), []string{`<nav class="pagination" aria-label="Pagination">`, `rel="prev" href="/widgets?page=1"`, `<span class="pagination-status">Page 2 of 3</span>`, `rel="next" href="/widgets?page=3"`}, nil},
		{NewPager(1, 1, url), []string{"Page 1 of 1"}, []string{`rel="prev"`, `rel="next"`}},
	} {
		var b strings.Builder
		if err := p.tmpl.ExecuteTemplate(&b, "pagination", tc.pager); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("pagination %+v lacks %s:\n%s", tc.pager, w, b.String())
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(b.String(), l) {
				t.Errorf("pagination %+v has %s", tc.pager, l)
			}
		}
	}
}

// TestIconNamesAreInTheSprite: an icon the sprite lacks is an error, so
// a misspelt {{template "icon" "name"}} fails when the templates are
// parsed (at start-up), not as an empty square in a browser; so does a
// confirmation's "Yes" for a label that starts with a letter beyond ASCII.
func TestIconNamesAreInTheSprite(t *testing.T) {
	ts, err := newTemplateSet("test")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := ts.icon("trash"); err != nil || !strings.Contains(string(h), "#i-trash") {
		t.Errorf("icon trash = %q, %v", h, err)
	}
	for _, name := range []string{"no-such-icon", "Trash", "", "x\"y"} {
		if h, err := ts.icon(name); err == nil {
			t.Errorf("icon %q = %q, want an error", name, h)
		}
	}
	if got := confirm("Éteindre", "/x", "?").Yes; got != "Yes, éteindre" {
		t.Errorf("confirm Éteindre: %q", got)
	}
	if got := confirm("API key", "/x", "?").Yes; got != "Yes, API key" {
		t.Errorf("confirm API key: %q", got)
	}
}
