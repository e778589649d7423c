// Command rename gives a clone of Launchkit its own Go module path: it
// rewrites go.mod and every mention of the old path in the tree (Go
// imports, the guides' code blocks, comments and examples).
//
//	make rename MODULE=github.com/acme/widgets
//	go run ./tools/rename github.com/acme/widgets
//
// Run it from the repository root on a clean work tree, then review the
// diff with git. The product name shown in pages is configuration
// (APP_NAME), not code: set it in your config file.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run ./tools/rename NEW_MODULE_PATH   (e.g. github.com/acme/widgets)")
		os.Exit(2)
	}
	if err := rename(".", os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(1)
	}
}

// skipDirs are never rewritten: build output, data, VCS and vendored code.
var skipDirs = map[string]bool{".git": true, "bin": true, "data": true, "vendor": true, "node_modules": true}

// rename changes the module path of the module at root to newPath: in
// go.mod and wherever a file of the tree names the module, Go imports
// and comments, the guides' code, configuration examples and generator
// templates alike, so the clone's docs show its own path and its tests,
// which compile the guide's code, still pass.
func rename(root, newPath string, out io.Writer) error {
	if err := module.CheckPath(newPath); err != nil {
		return fmt.Errorf("%q is not a valid module path: %v", newPath, err)
	}
	gomod := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return fmt.Errorf("read go.mod (run from the repository root): %w", err)
	}
	mf, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return err
	}
	if mf.Module == nil {
		return errors.New("go.mod has no module line")
	}
	oldPath := mf.Module.Mod.Path
	if oldPath == newPath {
		return fmt.Errorf("the module is already %s", newPath)
	}

	// Every change is made in memory first, so a Go file that does not
	// parse stops the rename before anything is written.
	rewritten, err := rewriteTree(root, oldPath, newPath)
	if err != nil {
		return err
	}
	goFiles := 0
	var others []string
	for _, f := range rewritten {
		if err := os.WriteFile(f.path, f.content, 0o644); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, f.path)
		if strings.HasSuffix(rel, ".go") {
			goFiles++
		} else {
			others = append(others, rel)
		}
	}
	// go.mod changes last, so a failure half-way leaves a tree that is
	// easy to reset with git.
	if err := mf.AddModuleStmt(newPath); err != nil {
		return err
	}
	formatted, err := mf.Format()
	if err != nil {
		return err
	}
	if err := os.WriteFile(gomod, formatted, 0o644); err != nil {
		return err
	}
	which := append([]string{fmt.Sprintf("%d Go files", goFiles)}, others...)
	fmt.Fprintf(out, "module %s → %s: go.mod and %d files rewritten (%s); review the change with git diff\n",
		oldPath, newPath, len(rewritten), strings.Join(which, ", "))
	return nil
}

// rewrittenFile is a file's new content.
type rewrittenFile struct {
	path    string
	content []byte
}

// rewriteTree returns the files under root that name oldPath, with
// newPath in its place. Files that are not text (images, databases) are
// left alone, and so is go.mod, which rename edits as a module file.
func rewriteTree(root, oldPath, newPath string) ([]rewrittenFile, error) {
	var files []rewrittenFile
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || path == filepath.Join(root, "go.mod") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.IndexByte(src, 0) >= 0 || !utf8.Valid(src) {
			return nil // not text
		}
		changed := replaceModulePath(src, oldPath, newPath)
		if bytes.Equal(changed, src) {
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			// The new path may sort elsewhere in an import group:
			// format.Source sorts it again, so the tree stays gofmt-clean.
			if changed, err = format.Source(changed); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		files = append(files, rewrittenFile{path, changed})
		return nil
	})
	return files, err
}

// replaceModulePath replaces every mention of the module path oldPath in
// src (the path itself or a package below it) with newPath. A longer
// path that only begins the same way (oldPath+"-extras", or a domain
// that ends like oldPath's) is another module and stays.
func replaceModulePath(src []byte, oldPath, newPath string) []byte {
	old := []byte(oldPath)
	var out []byte
	rest := src
	for {
		i := bytes.Index(rest, old)
		if i < 0 {
			return append(out, rest...)
		}
		end := i + len(old)
		before := i > 0 && isPathByte(rest[i-1]) || i == 0 && len(out) > 0 && isPathByte(out[len(out)-1])
		after := end < len(rest) && isPathByte(rest[end]) &&
			// a full stop ends a sentence, not the path
			!(rest[end] == '.' && (end+1 == len(rest) || !isPathByte(rest[end+1])))
		out = append(out, rest[:i]...)
		if before || after {
			out = append(out, old...)
		} else {
			out = append(out, newPath...)
		}
		rest = rest[end:]
	}
}

// isPathByte reports whether c may be part of a module path element.
func isPathByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
