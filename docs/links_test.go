package docs_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// TestLinksResolve: every relative link in the README and the docs pages
// names a file that exists and, when it has a #fragment into a Markdown
// file, a heading of that file. Pages move and headings get renamed as the
// docs grow; a newcomer following a dead link is what this prevents.
func TestLinksResolve(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"../README.md"}, pages...)
	if len(pages) < 2 {
		t.Fatal("no Markdown pages found in docs/")
	}
	for _, page := range pages {
		for _, problem := range brokenLinks(t, page) {
			t.Error(problem)
		}
	}
}

// TestBrokenLinksAreFound makes sure the check above can fail: each page
// here holds one kind of dead link.
func TestBrokenLinksAreFound(t *testing.T) {
	tests := []struct {
		name, page, want string
	}{
		{"missing file", "see [the guide](nowhere.md)", `"nowhere.md": no such file`},
		{"missing anchor in another page", "see [it](other.md#no-such-heading)", `"other.md#no-such-heading": other.md has no heading`},
		{"missing anchor in the same page", "# Title\n\nsee [above](#titel)", `"#titel": page.md has no heading`},
		{"link in a table cell", "| a | b |\n|---|---|\n| x | [y](gone/) |", `"gone/": no such file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, filepath.Join(dir, "other.md"), "# Other page\n\n## Some section\n")
			page := filepath.Join(dir, "page.md")
			write(t, page, tt.page+"\n")
			problems := brokenLinks(t, page)
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Errorf("problems = %q, want one containing %q", problems, tt.want)
			}
		})
	}
	t.Run("good links pass", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "other.md"), "# Other page\n\n## What `SECRET_KEY` does: 5. steps…\n")
		page := filepath.Join(dir, "page.md")
		write(t, page, "# Title\n\n## Title\n\n[a](other.md#what-secret_key-does-5-steps) [b](#title-1) "+
			"[c](https://example.com/x.md) [d](other.md) [e](.) `[f](gone.md)`\n\n```\n[g](gone.md)\n```\n")
		if problems := brokenLinks(t, page); len(problems) != 0 {
			t.Errorf("problems = %q, want none", problems)
		}
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// brokenLinks returns one line for each relative link of page that does
// not resolve. Links with a scheme (https:, mailto:) are not followed.
func brokenLinks(t *testing.T, page string) []string {
	t.Helper()
	_, doc := parse(t, page)
	var problems []string
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		var dest string
		switch n := n.(type) {
		case *ast.Link:
			dest = string(n.Destination)
		case *ast.Image:
			dest = string(n.Destination)
		default:
			return ast.WalkContinue, nil
		}
		if problem := checkLink(t, page, dest); problem != "" {
			problems = append(problems, fmt.Sprintf("%s: link %q: %s", page, dest, problem))
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	return problems
}

// checkLink says what is wrong with one link destination of page, or "".
func checkLink(t *testing.T, page, dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		return fmt.Sprintf("does not parse: %v", err)
	}
	if u.Scheme != "" || u.Host != "" {
		return ""
	}
	target := page
	if u.Path != "" {
		target = filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))
		if _, err := os.Stat(target); err != nil {
			return "no such file"
		}
	}
	if u.Fragment == "" || !strings.HasSuffix(target, ".md") {
		return ""
	}
	if !headingIDs(t, target)[u.Fragment] {
		return fmt.Sprintf("%s has no heading with the anchor #%s", filepath.Base(target), u.Fragment)
	}
	return ""
}

// headingIDs returns the anchors GitHub gives the headings of a Markdown
// file: the heading's text lower-cased, spaces made hyphens, punctuation
// dropped, and -1, -2, … on repeats.
func headingIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	src, doc := parse(t, path)
	ids, seen := map[string]bool{}, map[string]int{}
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		id := slug(plainText(h, src))
		if k := seen[id]; k > 0 {
			ids[fmt.Sprintf("%s-%d", id, k)] = true
		} else {
			ids[id] = true
		}
		seen[id]++
		return ast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ids
}

// slug is GitHub's anchor for a heading's text.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_', unicode.IsLetter(r), unicode.IsNumber(r), unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// plainText is the text of a heading as rendered, without Markdown
// syntax (code spans' backticks, emphasis marks).
func plainText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Text:
			b.Write(n.Segment.Value(src))
		case *ast.String:
			b.Write(n.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// parse reads and parses a Markdown file as GitHub renders it (GFM).
func parse(t *testing.T, path string) ([]byte, ast.Node) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	return src, md.Parser().Parse(text.NewReader(src))
}
