package testenv

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CopyRepo copies the repository at root into a temp dir and returns it:
// for tests of tools that rewrite the tree. In a git checkout it copies
// the files git would commit (tracked ones, and new ones not ignored, as
// they are in the working tree), so local build output, data, settings
// and screenshots stay behind; elsewhere (a copy of a copy) it copies the
// tree without .git, build output, data or dependencies.
func CopyRepo(t testing.TB, root string) string {
	t.Helper()
	dst := t.TempDir()
	files, err := gitFiles(root)
	if err != nil {
		files, err = treeFiles(root)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range files {
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet in git
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		// The mode is kept: scripts such as .ci/run stay executable.
		if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// RenamedCopy copies the repository at root (CopyRepo) and gives the copy
// another module path with the rename tool, as make rename does in a
// clone: the tests that compile the whole tree run there, so that what
// they check holds in every clone, renamed or not. It returns the copy
// and its module path.
func RenamedCopy(t testing.TB, root string) (dir, module string) {
	t.Helper()
	dir = CopyRepo(t, root)
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	module = "example.com/renamed/app"
	if strings.HasPrefix(string(gomod), "module "+module+"\n") {
		module += "2"
	}
	cmd := exec.Command("go", "run", "./tools/rename", module)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rename the copy to %s: %v\n%s", module, err, out)
	}
	return dir, module
}

// gitFiles lists the files under root that git would commit, relative
// to root.
func gitFiles(root string) ([]string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return nil, err
	}
	var files []string
	for name := range bytes.SplitSeq(bytes.TrimRight(out, "\x00"), []byte{0}) {
		if len(name) > 0 {
			files = append(files, filepath.FromSlash(string(name)))
		}
	}
	return files, nil
}

// treeFiles lists the files under root, relative to root, without .git,
// build output, data or dependencies.
func treeFiles(root string) ([]string, error) {
	skip := map[string]bool{".git": true, "bin": true, "data": true, "vendor": true, "node_modules": true}
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && skip[d.Name()] {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}
