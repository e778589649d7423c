package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/launchkit/launchkit/internal/testenv"
)

// currentModule is this repository's module path, read from go.mod so the
// tests keep working after a rename.
func currentModule(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	return modfile.ModulePath(b)
}

// TestARenamedCloneNamesOnlyItsOwnModule renames a copy of the tree (the
// files git would commit) and checks what a team gets from make rename: no
// file names the old module path, and the tree is gofmt-clean. That the
// renamed tree builds, vets (every test type-checked) and passes the
// guide's test, which compiles the code docs/adding-a-feature.md shows,
// is TestTheGuideAndTheGeneratorAgree's in tools/scaffold: it runs in a
// copy renamed by this tool (testenv.RenamedCopy), so the whole tree is
// compiled once rather than here again.
func TestARenamedCloneNamesOnlyItsOwnModule(t *testing.T) {
	old := currentModule(t)
	target := "github.com/acme/widgets"
	if old == target {
		target = "github.com/acme/gadgets"
	}
	root := testenv.CopyRepo(t, "../..")
	if err := rename(root, target, io.Discard); err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	if !strings.HasPrefix(string(gomod), "module "+target+"\n") {
		t.Fatalf("go.mod starts:\n%.80s", gomod)
	}
	mentions := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		mentions += bytes.Count(b, []byte(target))
		for i, line := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(line, []byte(old)) {
				rel, _ := filepath.Rel(root, path)
				t.Errorf("%s:%d still names %s: %s", rel, i+1, old, bytes.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if mentions < 100 {
		t.Errorf("the renamed tree names %s %d times: the rename missed the imports", target, mentions)
	}
	out, err := exec.Command("gofmt", "-l", root).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("gofmt -l in the renamed tree: %v\n%s", err, out)
	}
}

// TestRenameRewritesEveryMentionOfTheModule: Go imports, the guide's code
// blocks, prose and configuration examples all take the new path; a
// longer path that only begins like the module, and files that are not
// text, are left alone.
func TestRenameRewritesEveryMentionOfTheModule(t *testing.T) {
	root := t.TempDir()
	files := []struct{ path, before, after string }{
		{"go.mod",
			"module old.example/app\n\ngo 1.26\n",
			"module github.com/acme/widgets\n\ngo 1.26\n"},
		{"internal/web/web.go",
			"package web\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/go-chi/chi/v5\"\n\t\"old.example/app/internal/users\"\n)\n\n// Module is old.example/app.\nconst module = \"old.example/app\"\n",
			// The group is sorted again: gofmt-clean after the rename.
			"package web\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/acme/widgets/internal/users\"\n\t\"github.com/go-chi/chi/v5\"\n)\n\n// Module is github.com/acme/widgets.\nconst module = \"github.com/acme/widgets\"\n"},
		{"internal/web/routes.go",
			"package web\n\nimport (\n\t\"github.com/go-chi/chi/v5\"\n\n\t\"old.example/app/internal/jobs\"\n)\n",
			"package web\n\nimport (\n\t\"github.com/go-chi/chi/v5\"\n\n\t\"github.com/acme/widgets/internal/jobs\"\n)\n"},
		{"docs/guide.md",
			"Code lives in old.example/app.\n\n```go\nimport \"old.example/app/internal/mail\"\n```\n",
			"Code lives in github.com/acme/widgets.\n\n```go\nimport \"github.com/acme/widgets/internal/mail\"\n```\n"},
		{"config.example.yaml",
			"# see https://pkg.go.dev/old.example/app/internal/config\nAPP_NAME: App\n",
			"# see https://pkg.go.dev/github.com/acme/widgets/internal/config\nAPP_NAME: App\n"},
		{"tools/scaffold/templates/x.go.tmpl",
			"import \"old.example/app/internal/{{.Pkg}}\"\n",
			"import \"github.com/acme/widgets/internal/{{.Pkg}}\"\n"},
		{"docs/others.md",
			"old.example/apps, old.example/app-extras, old.example/app.v2 and xold.example/app are other modules.\n",
			"old.example/apps, old.example/app-extras, old.example/app.v2 and xold.example/app are other modules.\n"},
		{"static/img/logo.png",
			"\x89PNG\r\n\x1a\n\x00\x00old.example/app",
			"\x89PNG\r\n\x1a\n\x00\x00old.example/app"},
		{"data/app.db",
			"old.example/app",
			"old.example/app"},
	}
	for _, f := range files {
		path := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f.before), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := rename(root, "github.com/acme/widgets", io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != f.after {
			t.Errorf("%s after the rename:\n%q\nwant:\n%q", f.path, b, f.after)
		}
	}
}

func TestRenameRefusesBadInput(t *testing.T) {
	for _, tc := range []struct{ root, path, want string }{
		{"../..", "Not A Path", "not a valid module path"},
		{"../..", currentModule(t), "already"},
		{t.TempDir(), "github.com/acme/widgets", "run from the repository root"},
	} {
		if err := rename(tc.root, tc.path, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rename(%s, %q) = %v, want an error saying %q", tc.root, tc.path, err, tc.want)
		}
	}
}
