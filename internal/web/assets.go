package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"text/template/parse"
	"time"
)

// Cache lifetimes of the static files. A URL that names the file's
// current hash can never change content, so it is cached for a year and
// never revalidated; a plain URL is cached briefly; a URL whose hash is
// not the current one (a page from an older or newer deploy) is
// revalidated on each use, so that it never pins the wrong bytes.
const (
	cacheVersioned   = "public, max-age=31536000, immutable"
	cacheUnversioned = "public, max-age=3600"
	cacheMismatched  = "no-cache"
)

// assets knows the static files' content hashes and, for the embedded
// files, their gzip-compressed bytes, both computed once at start. In
// development, when the files are read from disk, the hash is computed
// from the file's current content on each use (so an edited file gets a
// new URL at once) and nothing is compressed.
type assets struct {
	fsys     fs.FS
	fromDisk bool
	files    map[string]*asset // embedded files only, by name under static/
}

type asset struct {
	hash string
	gz   []byte // nil when compression does not pay or the type is not text
}

func newAssets(fsys fs.FS, fromDisk bool) (*assets, error) {
	a := &assets{fsys: fsys, fromDisk: fromDisk, files: map[string]*asset{}}
	if fromDisk {
		return a, nil
	}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		f := &asset{hash: contentHash(b)}
		if compressible(name) {
			if f.gz, err = gzipped(b); err != nil {
				return fmt.Errorf("compress %s: %w", name, err)
			}
		}
		a.files[name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	return a, nil
}

// url is the template function asset: the versioned URL of a file under
// static/, "/static/css/app.css?v=<hash>". The version is a query
// parameter rather than part of the file name so that the file keeps its
// name in the embedded FS and on disk (no build step, no renaming), and
// an unversioned URL keeps working. A name that is not a static file
// fails the render, so that a typo shows in the tests.
func (a *assets) url(name string) (string, error) {
	f, err := a.lookup(name)
	if err != nil {
		return "", err
	}
	return "/static/" + name + "?v=" + f.hash, nil
}

// inline replaces each {{asset "name"}} of tmpl's templates — the
// function with a literal name, the one way the templates use it — by
// its URL as plain text, when the templates are parsed: once at start
// for the embedded files, on every request in development (where the
// templates are parsed on each render anyway, so the hash still follows
// the file on disk). A function call in an attribute would cost, on
// each render, the call and html/template's three escapers, about 20
// allocations a link; text costs nothing. An unknown name fails here,
// at start. Any other use of asset is left to the function.
func (a *assets) inline(tmpl *template.Template) error {
	_, err := rewriteText(tmpl, func(n parse.Node) ([]byte, bool, error) {
		action, ok := n.(*parse.ActionNode)
		if !ok {
			return nil, false, nil
		}
		if fn, name, ok := literalCall(action.Pipe); ok && fn == "asset" {
			url, err := a.url(name)
			return []byte(url), err == nil, err
		}
		return nil, false, nil
	})
	return err
}

// rewriteText replaces, in every template of tmpl, each node that text
// turns into text by a text node holding it, and reports whether it
// replaced any: how calls with literal arguments are done once, when the
// templates are parsed (assets.inline, templateSet.inlineShell), rather
// than on every render.
func rewriteText(tmpl *template.Template, text func(parse.Node) ([]byte, bool, error)) (bool, error) {
	changed := false
	var walk func(list *parse.ListNode) error
	branch := func(b *parse.BranchNode) error {
		if err := walk(b.List); err != nil {
			return err
		}
		return walk(b.ElseList)
	}
	walk = func(list *parse.ListNode) error {
		if list == nil {
			return nil
		}
		for i, n := range list.Nodes {
			var err error
			switch n := n.(type) {
			case *parse.ListNode:
				err = walk(n)
			case *parse.IfNode:
				err = branch(&n.BranchNode)
			case *parse.RangeNode:
				err = branch(&n.BranchNode)
			case *parse.WithNode:
				err = branch(&n.BranchNode)
			default:
				var b []byte
				var ok bool
				if b, ok, err = text(n); ok {
					list.Nodes[i] = &parse.TextNode{NodeType: parse.NodeText, Pos: n.Position(), Text: b}
					changed = true
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, t := range tmpl.Templates() {
		if t.Tree == nil {
			continue
		}
		if err := walk(t.Tree.Root); err != nil {
			return changed, fmt.Errorf("template %s: %w", t.Name(), err)
		}
	}
	return changed, nil
}

// lookup finds a static file by name; from disk it reads it afresh.
func (a *assets) lookup(name string) (*asset, error) {
	if !a.fromDisk {
		if f, ok := a.files[name]; ok {
			return f, nil
		}
		return nil, fmt.Errorf("no static file %q", name)
	}
	b, err := fs.ReadFile(a.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("static file %q: %w", name, err)
	}
	return &asset{hash: contentHash(b)}, nil
}

// contentHash is the file's version: the first 16 hex digits (64 bits)
// of its SHA-256, plenty to tell a file's versions apart.
func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// compressible says whether the file is text that gzip shrinks; images
// other than SVG and fonts are compressed already.
func compressible(name string) bool {
	switch path.Ext(name) {
	case ".css", ".js", ".mjs", ".svg", ".html", ".txt", ".json", ".map", ".xml":
		return true
	}
	return false
}

func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(b) {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// acceptsGzip reads Accept-Encoding (RFC 9110 §12.5.3): gzip (or its
// alias x-gzip) or * with a non-zero weight, and gzip not refused by name.
func acceptsGzip(header string) bool {
	named, star := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			named = max(named, q)
		case "*":
			star = max(star, q)
		}
	}
	if named >= 0 {
		return named > 0
	}
	return star > 0
}

// serve answers a request for the static file name, which exists. It
// sets the caching the URL's version earns (see the constants above),
// an ETag from the content, and serves the gzip bytes to a client that
// accepts them when the whole file is asked for unconditionally or with
// If-None-Match only. A Range request gets the plain bytes, so that its
// offsets mean what the client thinks, and so does one with If-Match or
// If-Unmodified-Since: http.ServeContent would answer a failed one with
// an empty 412 that must not claim gzip bytes. Everything else — HEAD,
// Range, 304s, Content-Type — is http.FileServer's (or
// http.ServeContent's) work.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string, files http.Handler) {
	f, err := a.lookup(name)
	if err != nil {
		files.ServeHTTP(w, r) // gone between the check and now: the file server answers
		return
	}
	h := w.Header()
	var v string
	if r.URL.RawQuery != "" { // Query parses into a map: skip it when there is none
		v = r.URL.Query().Get("v")
	}
	switch {
	case v == f.hash:
		h.Set("Cache-Control", cacheVersioned)
	case v != "":
		h.Set("Cache-Control", cacheMismatched)
	case !a.fromDisk:
		h.Set("Cache-Control", cacheUnversioned)
	}
	if compressible(name) {
		h.Add("Vary", "Accept-Encoding")
	}
	whole := r.Header.Get("Range") == "" && r.Header.Get("If-Match") == "" && r.Header.Get("If-Unmodified-Since") == ""
	if f.gz != nil && whole && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if ctype := mime.TypeByExtension(path.Ext(name)); ctype != "" {
			h.Set("Content-Type", ctype)
		}
		h.Set("Content-Encoding", "gzip")
		h.Set("ETag", `"`+f.hash+`-gzip"`)
		// ServeContent leaves Content-Length out when Content-Encoding
		// is set; a 304 deletes it again.
		h.Set("Content-Length", strconv.Itoa(len(f.gz)))
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.gz))
		return
	}
	h.Set("ETag", `"`+f.hash+`"`)
	files.ServeHTTP(errorsUncached{w}, r)
}

// errorsUncached drops the Cache-Control set for the file from an error
// answer (a failed precondition's 412, an unsatisfiable range's 416):
// the file's freshness is not the error's, and a shared cache would
// otherwise keep the empty error under the file's URL.
type errorsUncached struct{ http.ResponseWriter }

func (w errorsUncached) WriteHeader(status int) {
	if status >= 400 {
		w.Header().Del("Cache-Control")
	}
	w.ResponseWriter.WriteHeader(status)
}
