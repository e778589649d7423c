package testenv

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// CopyRepo copies the repository at root (the working tree, without
// .git, build output, data or dependencies) into a temp dir and returns
// it: for tests of tools that rewrite the tree.
func CopyRepo(t testing.TB, root string) string {
	t.Helper()
	skip := map[string]bool{".git": true, "bin": true, "data": true, "vendor": true, "node_modules": true}
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && skip[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
