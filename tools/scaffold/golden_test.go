package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from what the generator writes now")

// goldenArgs make the resource of the golden files: every field type,
// and the task of --job.
var goldenArgs = []string{"--job", "widget", "title:string", "notes:text", "count:int", "done:bool", "due:date", "manual:file", "photo:image"}

// goldenRoot is a tree the generator can write into: the repository's
// go.mod and the files it reads or adds lines to, and empty migration
// folders (so that the migrations are numbered 00001 whatever the
// repository holds).
func goldenRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	webFiles, err := filepath.Glob("../../internal/web/*.go")
	if err != nil || len(webFiles) == 0 {
		t.Fatalf("no internal/web files: %v", err)
	}
	copies := []string{"go.mod", "internal/app/app.go", "internal/jobs/tasks.go", "internal/jobs/handlers.go", "templates/layouts/nav.html"}
	for _, f := range webFiles {
		copies = append(copies, filepath.Join("internal/web", filepath.Base(f)))
	}
	for _, p := range copies {
		b, err := os.ReadFile(filepath.Join("../..", p))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		if err := os.MkdirAll(filepath.Join(root, "migrations", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestGeneratedFilesMatchTheGoldenFiles: the files the generator writes
// for goldenArgs, and the lines it adds to the site's files, are those
// of testdata/golden, to the byte. A change to a template shows there
// as the code a user gets; rewrite them with
//
//	go test ./tools/scaffold -run Golden -update
//
// and read the diff.
func TestGeneratedFilesMatchTheGoldenFiles(t *testing.T) {
	root := goldenRoot(t)
	before := snapshot(t, root)
	var out, errs bytes.Buffer
	if code := run(goldenArgs, root, &out, &errs); code != 0 {
		t.Fatalf("scaffold %v: exit %d\n%s", goldenArgs, code, errs.String())
	}
	after := snapshot(t, root)

	got := map[string]string{} // golden file name → content
	var added strings.Builder
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range after {
			if !yield(p) {
				return
			}
		}
	})
	for _, p := range paths {
		old, existed := before[p]
		switch {
		case !existed:
			got[filepath.ToSlash(p)+".golden"] = after[p]
		case old != after[p]:
			added.WriteString("== " + filepath.ToSlash(p) + "\n")
			for line := range strings.Lines(after[p]) {
				if tagged(line, "widget", p) {
					added.WriteString(line)
				}
			}
		}
	}
	got["added-lines.golden"] = added.String()

	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for name, content := range got {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := snapshot(t, dir)
	for name, content := range got {
		w, ok := want[filepath.FromSlash(name)]
		switch {
		case !ok:
			t.Errorf("the generator wrote %s, which has no golden file (go test ./tools/scaffold -run Golden -update)", strings.TrimSuffix(name, ".golden"))
		case w != content:
			t.Errorf("%s differs from its golden file (go test ./tools/scaffold -run Golden -update, then read the diff):\n%s", strings.TrimSuffix(name, ".golden"), firstDifference(w, content))
		}
	}
	for name := range want {
		if _, ok := got[filepath.ToSlash(name)]; !ok {
			t.Errorf("golden file %s: the generator no longer writes it", name)
		}
	}
}

// firstDifference shows the first line where got departs from want.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, wl, gl)
		}
	}
	return "(the same lines)"
}

// TestGeneratedGoIsLaidOutAsWritten: each generated Go file, with and
// without --job, is exactly what gofmt makes of it, and its top-level
// declarations stand apart, each after a blank line (a template's
// trimmed whitespace once put TableName's doc comment at the end of the
// struct's closing line).
func TestGeneratedGoIsLaidOutAsWritten(t *testing.T) {
	for _, args := range [][]string{goldenArgs, goldenArgs[1:]} {
		root := goldenRoot(t)
		before := snapshot(t, root)
		var out, errs bytes.Buffer
		if code := run(args, root, &out, &errs); code != 0 {
			t.Fatalf("scaffold %v: exit %d\n%s", args, code, errs.String())
		}
		for p, src := range snapshot(t, root) {
			if _, existed := before[p]; existed || !strings.HasSuffix(p, ".go") {
				continue
			}
			if formatted, err := format.Source([]byte(src)); err != nil || string(formatted) != src {
				t.Errorf("%v: %s is not what gofmt makes of it (%v)", args, p, err)
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(f.Decls); i++ {
				start := f.Decls[i].Pos()
				if doc := docOf(f.Decls[i]); doc != nil {
					start = doc.Pos()
				}
				prev := fset.Position(f.Decls[i-1].End()).Line
				if line := fset.Position(start).Line; line-prev < 2 {
					t.Errorf("%v: %s:%d: a declaration (or its doc comment) without a blank line after the one before", args, p, line)
				}
			}
		}
	}
}

// docOf is the doc comment of a top-level declaration, if any.
func docOf(d ast.Decl) *ast.CommentGroup {
	switch d := d.(type) {
	case *ast.FuncDecl:
		return d.Doc
	case *ast.GenDecl:
		return d.Doc
	}
	return nil
}

// TestGeneratedHandlersReturnWhatRenderReturns: render writes nothing
// when a page's template fails and returns the error for respond to
// answer (a logged 500), so a generated handler that calls it as a
// statement would send an empty 200 instead.
func TestGeneratedHandlersReturnWhatRenderReturns(t *testing.T) {
	const name = "testdata/golden/internal/web/widgets.go.golden"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "render") {
			calls++
		}
		return true
	})
	if calls == 0 {
		t.Fatalf("%s calls no render method: the test is out of date", name)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		stmt, ok := n.(*ast.ExprStmt)
		if !ok {
			return true
		}
		if call, ok := stmt.X.(*ast.CallExpr); ok {
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "render") {
				t.Errorf("%s: the error of %s is dropped: return it", fset.Position(call.Pos()), sel.Sel.Name)
			}
		}
		return true
	})
}
