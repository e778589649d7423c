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

// TestARenamedClonePassesItsTests renames a copy of the tree (the files
// git would commit) and checks what a team gets from make rename: no file
// names the old module path; the tree builds, vets (which type-checks
// every test as well) and is gofmt-clean; and the docs' tests and the
// guide's pass there, the guide's compiling the code that
// docs/adding-a-feature.md shows. The guide's test runs on SQLite only:
// the other databases it repeats itself on have nothing to do with the
// module path, and the suite runs them on the tree as it is.
func TestARenamedClonePassesItsTests(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles and tests a renamed copy of the tree: not in -short")
	}
	old := currentModule(t)
	root := testenv.CopyRepo(t, "../..")
	if err := rename(root, "github.com/acme/widgets", io.Discard); err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	if !strings.HasPrefix(string(gomod), "module github.com/acme/widgets\n") {
		t.Fatalf("go.mod starts:\n%.80s", gomod)
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
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

	// Not passed on, so the guide's test runs on SQLite alone.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEST_DATABASE_URL=") && !strings.HasPrefix(kv, "TEST_MYSQL_URL=") {
			env = append(env, kv)
		}
	}
	for _, args := range [][]string{
		{"go", "build", "./..."},
		{"go", "vet", "./..."},
		{"gofmt", "-l", "."},
		{"go", "test", "-count=1", "./docs"},
		{"go", "test", "-count=1", "-run", "^TestTheGuideAndTheGeneratorAgree$", "./tools/scaffold"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = root
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || (args[0] == "gofmt" && len(out) > 0) {
			t.Errorf("%s in the renamed tree: %v\n%s", strings.Join(args, " "), err, out)
		}
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
