package web_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/static"
)

var (
	// A class attribute's value may hold template actions, quotes and all:
	// class="badge {{if eq . "admin"}}badge-accent{{end}}".
	classAttr   = regexp.MustCompile(`\sclass="((?:\{\{.*?\}\}|[^"{]|\{)*)"`)
	action      = regexp.MustCompile(`\{\{.*?\}\}`)
	cssComment  = regexp.MustCompile(`(?s)/\*.*?\*/`)
	cssSelector = regexp.MustCompile(`([^{}]+)\{`)
	cssClass    = regexp.MustCompile(`\.([a-zA-Z_][a-zA-Z0-9_-]*)`)
)

// stylesheetClasses are the class names app.css's selectors name.
func stylesheetClasses(css string) map[string]bool {
	classes := map[string]bool{}
	for _, sel := range cssSelector.FindAllStringSubmatch(cssComment.ReplaceAllString(css, ""), -1) {
		for _, c := range cssClass.FindAllStringSubmatch(sel[1], -1) {
			classes[c[1]] = true
		}
	}
	return classes
}

// unstyledClasses lists, as "file: class", each class a template's class
// attributes use that the stylesheet has no rule for. A class the
// template builds (touching a {{…}} action) is not checked; the words
// inside an action are not classes.
func unstyledClasses(files map[string]string, styled map[string]bool) []string {
	var missing []string
	for name, text := range files {
		for _, attr := range classAttr.FindAllStringSubmatch(text, -1) {
			for _, c := range strings.Fields(action.ReplaceAllString(attr[1], "{{}}")) {
				if strings.Contains(c, "{{") || strings.Contains(c, "}}") || styled[c] {
					continue
				}
				missing = append(missing, name+": "+c)
			}
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}

// TestEveryTemplateClassHasAStyle: each class the page templates use has
// a rule in static/css/app.css, so that a misspelt or forgotten class
// shows here rather than as an unstyled page. The templates are read
// from disk when the test runs. The mail templates are left out: mail
// clients never load app.css, the mail layout carries its own styles.
func TestEveryTemplateClassHasAStyle(t *testing.T) {
	css, err := fs.ReadFile(static.FS, "css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	styled := stylesheetClasses(string(css))
	for _, c := range []string{"button", "card", "flash-error", "nav-link", "menu-item", "visually-hidden"} {
		if !styled[c] {
			t.Fatalf("the stylesheet's classes were misread: no %q in %v", c, styled)
		}
	}

	files := map[string]string{}
	root := filepath.Join("..", "..", "templates")
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "emails" {
			return filepath.SkipDir
		}
		if d.IsDir() || filepath.Ext(p) != ".html" {
			return nil
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(p[len(root)+1:])] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("only %d templates found under %s", len(files), root)
	}
	for _, m := range unstyledClasses(files, styled) {
		t.Errorf("class without a rule in app.css: %s", m)
	}

	t.Run("an unknown class is caught", func(t *testing.T) {
		got := unstyledClasses(map[string]string{"x.html": `<p class="card  cardd flash-{{.Kind}}"><span class="badge {{if eq . "admin"}}badge-accent{{else}}nobadge{{end}} x">`}, styled)
		if !slices.Equal(got, []string{"x.html: cardd", "x.html: x"}) {
			t.Errorf("unstyledClasses = %q, want cardd and x", got)
		}
	})
}
