package main

import (
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

func TestRenameGivesABuildableModule(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the whole renamed tree")
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
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), `"`+old+`/`) {
			t.Errorf("%s still names the old module", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"go", "vet", "./..."}, {"gofmt", "-l", "."}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil || (args[0] == "gofmt" && len(out) > 0) {
			t.Errorf("%v in the renamed tree: %v\n%s", args, err, out)
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
