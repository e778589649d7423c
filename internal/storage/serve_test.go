package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestCleanName: a client's file name is kept fit to show and to offer
// back, never as a path.
func TestCleanName(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"  spaced out.txt  ", "spaced out.txt"},
		{`Rapport "final".pdf`, "Rapport final.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\evil.exe`, "evil.exe"},
		{"dir/", ""},
		{".", ""},
		{"..", ""},
		{"a/..", ""},
		{"", ""},
		{"two\r\nSet-Cookie: x=1.txt", "twoSet-Cookie: x=1.txt"},
		{"tab\there\x00nul\x7fdel.txt", "tabherenuldel.txt"},
		{"next\u0085line\u009b.txt", "nextline.txt"},       // C1 controls
		{"invoice_\u202efdp.exe", "invoice_fdp.exe"},       // right-to-left override
		{"a\u2066b\u2069c\ufeff\u200e.txt", "abc.txt"},     // isolates, BOM, marks
		{"می\u200cخواهم.txt", "می\u200cخواهم.txt"},         // a zero-width non-joiner is spelling
		{"line\u2028para\u2029.txt", "linepara.txt"},       // separators
		{"bad\xff\xfeutf8.txt", "badutf8.txt"},             // invalid UTF-8
		{"été à Zürich — 写真.jpg", "été à Zürich — 写真.jpg"}, // UTF-8 kept
		{"semi;colon=equals,comma'quote.txt", "semi;colon=equals,comma'quote.txt"},
	}
	for _, tc := range tests {
		if got := storage.CleanName(tc.in); got != tc.want {
			t.Errorf("CleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, long := range []string{strings.Repeat("a", 300) + ".pdf", strings.Repeat("é", 200), strings.Repeat("写", 100)} {
		got := storage.CleanName(long)
		if len(got) > 120 || len(got) < 117 || !utf8.ValidString(got) || !strings.HasPrefix(long, got) {
			t.Errorf("CleanName of %d bytes = %d bytes %q", len(long), len(got), got)
		}
	}
}

// TestDisposition: inline only for raster images asked inline; the name
// offered is the client's (cleaned, RFC 2231-encoded when it is not
// ASCII) or else the key's.
func TestDisposition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, ct string
		d       storage.Download
		want    string
	}{
		{"avatars/abc.png", "image/png", storage.Download{}, "attachment; filename=abc.png"},
		{"avatars/abc.png", "image/png", storage.Download{Inline: true}, "inline; filename=abc.png"},
		{"avatars/abc.webp", "image/webp", storage.Download{Inline: true, Filename: "me.webp"}, "inline; filename=me.webp"},
		{"docs/x.pdf", "application/pdf", storage.Download{Inline: true}, "attachment; filename=x.pdf"},
		{"docs/x.bin", "image/svg+xml", storage.Download{Inline: true, Filename: "logo.svg"}, "attachment; filename=logo.svg"},
		{"docs/x.bin", "text/html", storage.Download{Inline: true, Filename: "page.html"}, "attachment; filename=page.html"},
		{"docs/x.txt", "text/plain", storage.Download{Inline: true}, "attachment; filename=x.txt"},
		{"docs/x.pdf", "application/pdf", storage.Download{Filename: `Rapport "final".pdf`}, `attachment; filename="Rapport final.pdf"`},
		{"docs/x.pdf", "application/pdf", storage.Download{Filename: "../../etc/passwd"}, "attachment; filename=passwd"},
		{"docs/x.pdf", "application/pdf", storage.Download{Filename: "dir/"}, "attachment; filename=x.pdf"},
		{"docs/x.pdf", "application/pdf", storage.Download{Filename: "été.pdf"}, "attachment; filename*=utf-8''%C3%A9t%C3%A9.pdf"},
		{"docs/x.pdf", "application/pdf", storage.Download{Filename: "a\r\nb.pdf"}, "attachment; filename=ab.pdf"},
	}
	for _, tc := range tests {
		got := storage.Disposition(tc.key, tc.ct, tc.d)
		if got != tc.want {
			t.Errorf("Disposition(%s, %s, %+v) = %q, want %q", tc.key, tc.ct, tc.d, got, tc.want)
		}
		if strings.ContainsAny(got, "\r\n") {
			t.Errorf("Disposition has a line break: %q", got)
		}
	}
}

// localStore is a Local store in a temporary directory.
func localStore(t *testing.T) *storage.Local {
	t.Helper()
	l, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func serve(t *testing.T, s storage.Store, method, key string, d storage.Download, header ...string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	r := httptest.NewRequest(method, "/files/x", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	err := storage.Serve(w, r, s, key, d)
	return w, err
}

// TestServeLocal: the app serves a local file with the headers that keep
// an upload from running on the site.
func TestServeLocal(t *testing.T) {
	t.Parallel()
	s := localStore(t)
	html := []byte("<!DOCTYPE html><script>alert(document.cookie)</script>")
	put(t, s, "avatars/face.png", pngBytes)
	put(t, s, "docs/page.html", html) // a key this package would not make, but may be asked for
	put(t, s, "docs/data.bin", html)

	tests := []struct {
		name, key   string
		d           storage.Download
		ct, cd      string
		body        []byte
		extraHeader []string
		status      int
	}{
		{"picture inline", "avatars/face.png", storage.Download{Inline: true}, "image/png", "inline; filename=face.png", pngBytes, nil, 200},
		{"picture as download", "avatars/face.png", storage.Download{Filename: "me.png"}, "image/png", "attachment; filename=me.png", pngBytes, nil, 200},
		{"html asked inline", "docs/page.html", storage.Download{Inline: true, Filename: "page.html"}, "application/octet-stream", "attachment; filename=page.html", html, nil, 200},
		{"svg asked inline", "docs/data.bin", storage.Download{Inline: true, Filename: "logo.svg"}, "application/octet-stream", "attachment; filename=logo.svg", html, nil, 200},
		{"range", "avatars/face.png", storage.Download{}, "image/png", "attachment; filename=face.png", pngBytes[1:4], []string{"Range", "bytes=1-3"}, 206},
	}
	for _, tc := range tests {
		w, err := serve(t, s, http.MethodGet, tc.key, tc.d, tc.extraHeader...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h := w.Header()
		if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), tc.body) {
			t.Errorf("%s: %d, %d bytes; want %d, %d bytes", tc.name, w.Code, w.Body.Len(), tc.status, len(tc.body))
		}
		if h.Get("Content-Type") != tc.ct || h.Get("Content-Disposition") != tc.cd {
			t.Errorf("%s: Content-Type %q, Content-Disposition %q; want %q, %q", tc.name, h.Get("Content-Type"), h.Get("Content-Disposition"), tc.ct, tc.cd)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != storage.DownloadCSP {
			t.Errorf("%s: nosniff %q, CSP %q", tc.name, h.Get("X-Content-Type-Options"), h.Get("Content-Security-Policy"))
		}
	}
	if !strings.Contains(storage.DownloadCSP, "sandbox") || !strings.Contains(storage.DownloadCSP, "default-src 'none'") {
		t.Errorf("DownloadCSP = %q", storage.DownloadCSP)
	}

	w, err := serve(t, s, http.MethodGet, "avatars/face.png", storage.Download{}, "Range", "bytes=1-3")
	if err != nil || w.Header().Get("Content-Range") != "bytes 1-3/"+itoa(len(pngBytes)) {
		t.Errorf("range: Content-Range %q, %v", w.Header().Get("Content-Range"), err)
	}

	w, err = serve(t, s, http.MethodHead, "avatars/face.png", storage.Download{})
	if err != nil || w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != itoa(len(pngBytes)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q, %v", w.Code, w.Body.Len(), w.Header().Get("Content-Length"), err)
	}

	modified := w.Header().Get("Last-Modified")
	if modified == "" {
		t.Fatal("no Last-Modified")
	}
	w, err = serve(t, s, http.MethodGet, "avatars/face.png", storage.Download{}, "If-Modified-Since", modified)
	if err != nil || w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("If-Modified-Since: %d, %d bytes, %v", w.Code, w.Body.Len(), err)
	}

	for _, key := range []string{"avatars/missing.png", "../etc/passwd", "avatars"} {
		w, err = serve(t, s, http.MethodGet, key, storage.Download{})
		if !errors.Is(err, storage.ErrNotFound) || w.Body.Len() != 0 || len(w.Header()) != 0 {
			t.Errorf("%s: err %v, %d bytes, headers %v; want ErrNotFound and nothing written", key, err, w.Body.Len(), w.Header())
		}
	}
}

// unseekable is a Local store whose objects cannot seek, as a store
// reading from the network would give them.
type unseekable struct{ *storage.Local }

func (u unseekable) Open(ctx context.Context, key string) (io.ReadCloser, storage.Object, error) {
	body, obj, err := u.Local.Open(ctx, key)
	if err != nil {
		return nil, obj, err
	}
	return struct {
		io.Reader
		io.Closer
	}{body, body}, obj, nil
}

// TestServeUnseekable: a body that cannot seek is copied whole, with its
// length and the same headers.
func TestServeUnseekable(t *testing.T) {
	t.Parallel()
	s := unseekable{localStore(t)}
	put(t, s, "avatars/face.png", pngBytes)
	w, err := serve(t, s, http.MethodGet, "avatars/face.png", storage.Download{Inline: true})
	if err != nil || w.Code != 200 || !bytes.Equal(w.Body.Bytes(), pngBytes) || w.Header().Get("Content-Length") != itoa(len(pngBytes)) {
		t.Errorf("GET: %d, %d bytes, Content-Length %q, %v", w.Code, w.Body.Len(), w.Header().Get("Content-Length"), err)
	}
	if h := w.Header(); h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != storage.DownloadCSP ||
		h.Get("Content-Disposition") != "inline; filename=face.png" || h.Get("Content-Type") != "image/png" {
		t.Errorf("headers: %v", h)
	}
	w, err = serve(t, s, http.MethodHead, "avatars/face.png", storage.Download{})
	if err != nil || w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != itoa(len(pngBytes)) {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q, %v", w.Code, w.Body.Len(), w.Header().Get("Content-Length"), err)
	}
}

// TestServeS3 sends the browser to a presigned URL, which gives the file
// with the disposition asked.
func TestServeS3(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	s, err := storage.NewS3(t.Context(), storage.S3Options{Bucket: fake.Bucket, Endpoint: fake.Endpoint, Prefix: "app"})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "avatars/face.png", pngBytes)
	w, err := serve(t, s, http.MethodGet, "avatars/face.png", storage.Download{Inline: true})
	if err != nil || w.Code != http.StatusSeeOther {
		t.Fatalf("GET: %d, %v; want a 303", w.Code, err)
	}
	loc := w.Header().Get("Location")
	if !strings.HasPrefix(loc, fake.Endpoint+"/"+fake.Bucket+"/app/avatars/face.png?") || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Errorf("Location = %q", loc)
	}
	resp := get(t, loc)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(body, pngBytes) || resp.Header.Get("Content-Disposition") != "inline; filename=face.png" || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("presigned GET: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Query().Get("X-Amz-Expires"); got != strconv.Itoa(int(storage.URLLifetime.Seconds())) || got != "300" {
		t.Errorf("presigned for %s seconds, want 300 (URLLifetime)", got)
	}
	if _, err := serve(t, s, http.MethodGet, "../avatars/face.png", storage.Download{}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("an invalid key: %v, want ErrNotFound", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
