// Command rename gives a clone of Launchkit its own Go module path: it
// rewrites go.mod and every import of the old path in the tree.
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
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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

// rename changes the module path of the module at root to newPath.
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

	// Rewrite the Go files first: go.mod changes last, so a failure
	// half-way leaves a tree that is easy to reset with git.
	changed := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		did, err := rewriteImports(path, oldPath, newPath)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if did {
			changed++
		}
		return nil
	})
	if err != nil {
		return err
	}

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
	fmt.Fprintf(out, "module %s → %s: go.mod and %d Go files rewritten\n", oldPath, newPath, changed)
	return nil
}

// rewriteImports replaces oldPath with newPath in the imports of one
// file and reports whether it changed anything.
func rewriteImports(path, oldPath, newPath string) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return false, err
	}
	did := false
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		if p == oldPath || strings.HasPrefix(p, oldPath+"/") {
			imp.Path = &ast.BasicLit{ValuePos: imp.Path.Pos(), Kind: token.STRING, Value: strconv.Quote(newPath + strings.TrimPrefix(p, oldPath))}
			did = true
		}
	}
	if !did {
		return false, nil
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return false, err
	}
	return true, os.WriteFile(path, buf.Bytes(), 0o644)
}
