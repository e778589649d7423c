package storage

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DownloadCSP is the Content-Security-Policy of every file the app
// serves: nothing may load or run, and the document is sandboxed (a
// unique origin), so even a file a browser did render as a page could
// not reach the site.
const DownloadCSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"

// URLLifetime is how long a presigned URL is valid.
const URLLifetime = 5 * time.Minute

// Serve answers r with the object of key: from the store's own address
// (a 303 to a presigned URL) when it has one, else the bytes, with
// nosniff, a Content-Disposition (inline only for raster images), the
// sandboxing DownloadCSP, and ranges and If-Modified-Since handled. The
// caller has checked that r may see the record that owns key, and sets
// Cache-Control. A key with no object is ErrNotFound.
func Serve(w http.ResponseWriter, r *http.Request, s Store, key string, d Download) error {
	u, err := s.URL(r.Context(), key, d)
	if err != nil {
		return err
	}
	if u != "" {
		http.Redirect(w, r, u, http.StatusSeeOther)
		return nil
	}
	body, obj, err := s.Open(r.Context(), key)
	if err != nil {
		return err
	}
	defer body.Close()
	h := w.Header()
	ct := obj.ContentType
	if ct == "" {
		ct = TypeOfKey(key)
	}
	h.Set("Content-Type", ct)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", DownloadCSP)
	h.Set("Content-Disposition", Disposition(key, ct, d))
	if rs, ok := body.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", obj.Modified, rs)
		return nil
	}
	h.Set("Content-Length", fmt.Sprint(obj.Size))
	if r.Method == http.MethodHead {
		return nil
	}
	// A copy cut short is a client gone away (or the store failing
	// mid-file): the status is sent, nothing more can be answered.
	_, _ = io.Copy(w, body)
	return nil
}

// Disposition is the Content-Disposition of key served as d: inline only
// for the raster images Inlineable allows, an attachment otherwise, with
// the file name encoded as RFC 6266 says (a name that cannot be encoded
// falls back to the key's).
func Disposition(key, contentType string, d Download) string {
	kind := "attachment"
	if d.Inline && Inlineable(contentType) {
		kind = "inline"
	}
	name := cleanName(d.Filename)
	if name == "" {
		name = path.Base(key)
	}
	if v := mime.FormatMediaType(kind, map[string]string{"filename": name}); v != "" {
		return v
	}
	return mime.FormatMediaType(kind, map[string]string{"filename": path.Base(key)})
}

// cleanName keeps a client's file name fit to show and to offer back: its
// last path element (after a / or a Windows \), without control
// characters (C0 and C1), the marks and overrides that reorder text (a
// name "invoice_<U+202E>fdp.exe" reads as "invoice_exe.pdf"), byte order
// marks, line separators, quotes or invalid UTF-8, at most 120 bytes.
func cleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp) ||
			r == '\ufeff' || r == '"' || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 120 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "." || name == ".." {
		return ""
	}
	return name
}

// CleanName is cleanName for callers that keep a client's file name to
// show it (never to store under it).
func CleanName(name string) string { return cleanName(name) }
