package main

import (
	"bytes"
	"go/format"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/testenv"
)

// snapshot reads every file under root, by path.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// goIn runs the go command in dir, failing the test with its output.
func goIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// guideBlock is a fenced code block of docs/adding-a-feature.md.
type guideBlock struct{ lang, body string }

var fence = regexp.MustCompile("(?ms)^```(\\w+)\n(.*?)^```$")

// guideBlocks are the blocks of the guide in the tree at root.
func guideBlocks(t *testing.T, root string) []guideBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "adding-a-feature.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []guideBlock
	for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
		blocks = append(blocks, guideBlock{lang: m[1], body: m[2]})
	}
	return blocks
}

// normalized are the non-blank lines of s, trimmed, with runs of spaces
// made one (gofmt's alignment aside).
func normalized(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if f := strings.Fields(line); len(f) > 0 {
			out = append(out, strings.Join(f, " "))
		}
	}
	return out
}

// holdsRun reports whether want is a run of lines in have.
func holdsRun(have, want []string) bool {
	for i := 0; i+len(want) <= len(have); i++ {
		if slices.Equal(have[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

var (
	fileBlock   = regexp.MustCompile(`^// file: (\S+)\n`)
	insertBlock = regexp.MustCompile(`^// add to (\S+) at "([^"]+)":\n`)
)

// TestTheGuideAndTheGeneratorAgree: in a copy of the tree, renamed to
// another module path as make rename does (so that all of this holds in
// every clone, and a rename that missed the guide fails here), the
// guide's own scaffold commands (the widget, and the invoice of its file
// and image fields) and a second resource (the other field types, a
// two-word name) are generated; every block of docs/adding-a-feature.md
// that shows generated code is found in what was generated, every file
// the guide has you write is written, and the tree passes go vet and the
// tests of all of it (on PostgreSQL and MariaDB too when the TEST_* URLs
// are set; the browser step where Chromium is). --delete then leaves the
// generator's part of the tree exactly as it was.
func TestTheGuideAndTheGeneratorAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and tests a copy of the tree: not in -short")
	}
	root, _ := testenv.RenamedCopy(t, "../..")
	blocks := guideBlocks(t, root)
	var guideArgs [][]string // the guide's scaffold commands, in its order
	for _, b := range blocks {
		for line := range strings.Lines(b.body) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "go run ./tools/scaffold "); ok && b.lang == "sh" {
				guideArgs = append(guideArgs, strings.Fields(rest))
			}
		}
	}
	if len(guideArgs) == 0 {
		t.Fatal("the guide runs no go run ./tools/scaffold command")
	}
	made := append(slices.Clone(guideArgs), []string{"--job", "blog_post", "headline:string", "notes:text", "views:int", "published:bool"})
	var names, packages, pageTests []string
	for _, args := range made {
		args = slices.DeleteFunc(slices.Clone(args), func(a string) bool { return strings.HasPrefix(a, "-") })
		r, err := parse(root, args[0], "", args[1:])
		if err != nil {
			t.Fatalf("scaffold %v: %v", args, err)
		}
		names, packages = append(names, r.Name), append(packages, "./internal/"+r.Pkg)
		pageTests = append(pageTests, "Test"+r.Types+"Pages")
		if len(r.Uploads()) > 0 {
			pageTests = append(pageTests, "Test"+r.Types+"Files")
		}
	}
	if !slices.ContainsFunc(guideArgs, func(args []string) bool {
		return slices.ContainsFunc(args, func(a string) bool { return strings.HasSuffix(a, ":file") }) &&
			slices.ContainsFunc(args, func(a string) bool { return strings.HasSuffix(a, ":image") })
	}) {
		t.Error("the guide makes no resource with a file and an image field")
	}

	before := snapshot(t, root)
	var out, errs bytes.Buffer
	for _, args := range made {
		if code := run(args, root, &out, &errs); code != 0 {
			t.Fatalf("scaffold %v: exit %d\n%s", args, code, errs.String())
		}
	}
	generated := snapshot(t, root)

	var handWritten []string
	for i, b := range blocks {
		if b.lang == "sh" {
			continue
		}
		if m := fileBlock.FindStringSubmatch(b.body); m != nil {
			path := filepath.Join(root, m[1])
			if _, err := os.Stat(path); err == nil {
				t.Errorf("guide block %d writes %s, which exists", i, m[1])
			}
			src := []byte(b.body[len(m[0]):])
			if formatted, err := format.Source(src); err == nil && !bytes.Equal(formatted, src) {
				t.Errorf("guide block %d (%s) is not gofmt-clean: make lint would fail after following it", i, m[1])
			}
			if err := os.WriteFile(path, src, 0o644); err != nil {
				t.Fatal(err)
			}
			handWritten = append(handWritten, m[1])
			continue
		}
		if m := insertBlock.FindStringSubmatch(b.body); m != nil {
			in := insertion{path: m[1], marker: m[2], lines: normalized(b.body[len(m[0]):])}
			if err := insert(root, in, "// guide"); err != nil {
				t.Fatalf("guide block %d: %v", i, err)
			}
			continue
		}
		want := normalized(b.body)
		found := false
		for path, content := range generated {
			if before[path] != content && holdsRun(normalized(content), want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("guide block %d (%s) is not in what the generator wrote:\n%s", i, b.lang, b.body)
		}
	}
	if len(handWritten) == 0 {
		t.Error("the guide has you write no file")
	}

	goIn(t, root, "vet", "./...")
	goIn(t, root, append([]string{"test", "-count=1"}, packages...)...)
	goIn(t, root, "test", "-count=1", "-run", strings.Join(pageTests, "|"), "./internal/web")
	goIn(t, root, "test", "-count=1", "-run", "TestWidgetReminders|TestBlogPostAdded", "./internal/jobs")
	goIn(t, root, "test", "-count=1", "-run", "TestAddAWidgetInTheBrowser", "./e2e")

	for _, name := range names {
		if code := run([]string{"--delete", name}, root, &out, &errs); code != 0 {
			t.Fatalf("scaffold --delete %s: exit %d\n%s", name, code, errs.String())
		}
	}
	for _, p := range handWritten {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	// The lines the guide had added go as the generator's do, by their tag.
	tasks := filepath.Join(root, "internal", "jobs", "tasks.go")
	b, err := os.ReadFile(tasks)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for line := range strings.Lines(string(b)) {
		if !strings.HasSuffix(strings.TrimSpace(line), "// guide") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(tasks, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, root)
	for path, content := range before {
		if after[path] != content {
			t.Errorf("%s differs after generate and delete", path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok {
			t.Errorf("%s is left after delete", path)
		}
	}
}

// fakeRoot is the least of a tree the generator writes into: go.mod, the
// files with markers, and the migration folders.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                        "module example.com/app\n\ngo 1.22\n",
		"internal/app/app.go":           "package app\n\nimport (\n\t\"fmt\"\n)\n\ntype App struct {\n\t// scaffold:services\n}\n\nfunc New() {\n\t// scaffold:wire\n\tfmt.Println()\n}\n\nfunc (a *App) Handlers() any {\n\treturn struct{}{\n\t\t// scaffold:handlerswire\n\t}\n}\n",
		"internal/web/routes.go":        "package web\n\nfunc routes() {\n\t// scaffold:routes\n}\n",
		"internal/web/server.go":        "package web\n\nimport (\n\t\"fmt\"\n)\n\ntype Server struct {\n\t// scaffold:server\n}\n\nfunc New() {\n\t// scaffold:serverwire\n\tfmt.Println()\n}\n",
		"migrations/sqlite/00001_x.sql": "-- +goose Up\nCREATE TABLE user_roles (id INTEGER);\n",
		"internal/web/profile.go":       "package web\n\n// updateProfile is the site's own.\nfunc (s *Server) updateProfile() {}\n",
		"internal/web/apikeys.go":       "package web\n",
		"internal/web/handler.go":       "package web\n\nimport (\n\t\"net/http\"\n)\n\nvar statusFor = []struct {\n\terr     error\n\tstatus  int\n\tmessage string\n}{\n\t// scaffold:errors\n}\n\nvar _ = http.StatusOK\n",
		"internal/jobs/tasks.go":        "package jobs\n\nvar Tasks = []int{\n\t// scaffold:tasks\n}\n",
		"internal/jobs/handlers.go":     "package jobs\n\nimport (\n\t\"fmt\"\n)\n\ntype Handlers struct {\n\t// scaffold:handlers\n}\n\nvar _ = fmt.Println\n",
		"templates/layouts/nav.html":    fakeNav,
	}
	for path, content := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// fakeNav is a navigation template with its marker.
const fakeNav = "{{define \"nav\"}}\n<ul class=\"nav-list\">\n  <li><a class=\"nav-link\" href=\"/\">Home</a></li>\n  {{/* scaffold:nav */}}\n</ul>\n{{end}}\n"

// TestTheNavigationGetsEachResourceOnce: the generator adds a resource's
// link just before the scaffold:nav marker, in the order the resources
// are made, never twice; --delete takes it out again, and a navigation
// without the marker is refused before anything is written.
func TestTheNavigationGetsEachResourceOnce(t *testing.T) {
	root := fakeRoot(t)
	nav := filepath.Join(root, "templates", "layouts", "nav.html")
	var out, errs bytes.Buffer
	for _, args := range [][]string{{"widget", "title:string"}, {"blog_post", "headline:string"}} {
		if code := run(args, root, &out, &errs); code != 0 {
			t.Fatalf("scaffold %v: exit %d, %s", args, code, errs.String())
		}
	}
	widgetLine := `  <li><a class="nav-link" href="/widgets" {{navCurrent "/widgets"}}>{{template "icon" "inbox"}}Widgets</a></li>{{/* scaffolded:widget */}}` + "\n"
	blogLine := `  <li><a class="nav-link" href="/blog-posts" {{navCurrent "/blog-posts"}}>{{template "icon" "inbox"}}Blog posts</a></li>{{/* scaffolded:blog_post */}}` + "\n"
	want := strings.Replace(fakeNav, "  {{/* scaffold:nav */}}\n", widgetLine+blogLine+"  {{/* scaffold:nav */}}\n", 1)
	if b, _ := os.ReadFile(nav); string(b) != want {
		t.Errorf("nav.html is\n%s\nwant\n%s", b, want)
	}

	// Adding the lines again changes nothing.
	r := &resource{Name: "widget", Type: "Widget", Types: "Widgets", Path: "/widgets", Labels: "widgets", Module: "example.com/app", Pkg: "widgets"}
	for _, in := range r.insertions() {
		if in.path == navPath {
			if err := insert(root, in, tagIn("widget", in.path)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b, _ := os.ReadFile(nav); string(b) != want {
		t.Errorf("adding the widget's link again made nav.html\n%s", b)
	}
	errs.Reset()
	if code := run([]string{"widget", "title:string"}, root, &out, &errs); code != 2 {
		t.Errorf("a second widget: exit %d, %q; want 2", code, errs.String())
	}
	if b, _ := os.ReadFile(nav); string(b) != want {
		t.Errorf("a refused second widget changed nav.html:\n%s", b)
	}

	for _, name := range []string{"widget", "blog_post"} {
		if code := run([]string{"--delete", name}, root, &out, &errs); code != 0 {
			t.Fatalf("scaffold --delete %s: exit %d, %s", name, code, errs.String())
		}
	}
	if b, _ := os.ReadFile(nav); string(b) != fakeNav {
		t.Errorf("after --delete nav.html is\n%s\nwant it as it was", b)
	}

	root = fakeRoot(t)
	nav = filepath.Join(root, "templates", "layouts", "nav.html")
	if err := os.WriteFile(nav, []byte(strings.Replace(fakeNav, "  {{/* scaffold:nav */}}\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	errs.Reset()
	if code := run([]string{"widget", "title:string"}, root, &out, &errs); code != 1 || !strings.Contains(errs.String(), `no "{{/* scaffold:nav */}}" line`) {
		t.Errorf("without the nav marker: exit %d, %q; want 1 naming the marker", code, errs.String())
	}
	if after := snapshot(t, root); len(after) != len(before) {
		t.Error("files were written although the nav marker was missing")
	}
}

// TestRefusals: bad names and fields, a resource made twice and a file
// without its marker get a clear message and an exit code, and no file.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 2, "usage"},
		{[]string{"widget"}, 2, "usage"},
		{[]string{"Widget", "title:string"}, 2, "lower case"},
		{[]string{"wid-get", "title:string"}, 2, "lower case"},
		{[]string{"user", "name:string"}, 2, "taken"},
		{[]string{"func", "name:string"}, 2, "taken"},
		{[]string{"widget", "title"}, 2, "NAME:TYPE"},
		{[]string{"widget", "title:str"}, 2, `type "str" is not one of`},
		{[]string{"widget", "id:string"}, 2, "taken"},
		{[]string{"widget", "title:string", "title:text"}, 2, "twice"},
		{[]string{"widget", "done:bool"}, 2, "at least one string field"},
		{[]string{"--delete", "gizmo"}, 2, `nothing the generator made for "gizmo"`},
		{[]string{"--delete", "apikey"}, 2, `nothing the generator made for "apikey"`}, // its files are the site's
		{[]string{"ab", "title:string"}, 2, "three letters"},
		{[]string{"widgets", "title:string"}, 2, "looks plural"},
		{[]string{"--plural", "news", "news", "title:string"}, 2, "not the same as the singular"},
		{[]string{"profile", "title:string"}, 2, "updateProfile"},
		{[]string{"user_role", "title:string"}, 2, "table user_roles exists"},
		{[]string{"widget", "title:string", "order:int"}, 2, "reserved word"},
		{[]string{"widget", "title:string", "type:string"}, 2, "reserved word"},
		{[]string{"widget", "title:string", "table_name:string"}, 2, "taken"},
		{[]string{"server", "title:string"}, 2, "taken"},
		{[]string{"handler", "title:string"}, 2, "taken"},
		{[]string{"widget", "title:string", "edit:file"}, 2, "download route would be /widgets/{id}/edit"},
		{[]string{"widget", "title:string", "manual:file", "manual_name:string"}, 2, "column or form field manual_name"},
		{[]string{"widget", "title:string", "remove_photo:bool", "photo:image"}, 2, "column or form field remove_photo"},
		{[]string{"widget", "title:string", "photo:picture"}, 2, `type "picture" is not one of string, text, int, bool, date, file, image`},
	} {
		root := fakeRoot(t)
		before := snapshot(t, root)
		var out, errs bytes.Buffer
		if code := run(tc.args, root, &out, &errs); code != tc.code || !strings.Contains(errs.String(), tc.says) {
			t.Errorf("scaffold %q: exit %d, %q; want exit %d saying %q", tc.args, code, errs.String(), tc.code, tc.says)
		}
		if after := snapshot(t, root); len(after) != len(before) {
			t.Errorf("scaffold %q wrote files although it refused", tc.args)
		}
	}

	root := fakeRoot(t)
	var out, errs bytes.Buffer
	// Flags may follow the fields; the import goes with the module's own.
	if code := run([]string{"gadget", "name:string", "--job"}, root, &out, &errs); code != 0 {
		t.Fatalf("scaffold gadget … --job: exit %d, %s", code, errs.String())
	}
	if _, err := os.Stat(filepath.Join(root, "internal/jobs/gadget_added.go")); err != nil {
		t.Error("--job after the fields made no task")
	}
	if code := run([]string{"--delete", "gadget"}, root, &out, &errs); code != 0 {
		t.Fatalf("scaffold --delete gadget: exit %d, %s", code, errs.String())
	}
	if code := run([]string{"widget", "title:string"}, root, &out, &errs); code != 0 {
		t.Fatalf("first scaffold: exit %d, %s", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"widget", "title:string"}, root, &out, &errs); code != 2 || !strings.Contains(errs.String(), "exists already") {
		t.Errorf("a second widget: exit %d, %q; want 2 saying it exists", code, errs.String())
	}

	root = fakeRoot(t)
	if err := os.WriteFile(filepath.Join(root, "internal/web/routes.go"), []byte("package web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	errs.Reset()
	if code := run([]string{"widget", "title:string"}, root, &out, &errs); code != 1 || !strings.Contains(errs.String(), `no "// scaffold:routes" line`) {
		t.Errorf("without the routes marker: exit %d, %q; want 1 naming the marker", code, errs.String())
	}
	if _, err := os.Stat(filepath.Join(root, "internal/widgets/widgets.go")); err == nil {
		t.Error("files were written although a marker was missing")
	}
}
