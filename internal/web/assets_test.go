package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/launchkit/launchkit/static"
)

// assetURL finds the versioned URL of static file name in a page.
func assetURL(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`"(/static/` + regexp.QuoteMeta(name) + `\?v=[0-9a-f]{16})"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page links no versioned /static/%s:\n%s", name, page)
	}
	return m[1]
}

func staticFile(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(static.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPagesLinkStaticFilesByContentHash: every static file the layout
// links carries its content's hash; that URL is the file, cached for a
// year and never revalidated. A plain URL keeps its hour; a hash that is
// not the file's (a page from another deploy) still gets the file — a
// page mid-deploy keeps its styles — but revalidated on each use, so
// that it never pins the wrong bytes under that URL.
func TestPagesLinkStaticFilesByContentHash(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	page := s.get("/").status(200).body
	if bytes.Contains([]byte(page), []byte(`"/static/css/app.css"`)) {
		t.Error("the page links the unversioned app.css")
	}
	for _, name := range []string{"css/app.css", "js/theme.js", "js/app.js", "favicon.svg"} {
		url := assetURL(t, page, name)
		r := s.get(url).status(200).cacheControl("public, max-age=31536000, immutable")
		if r.body != staticFile(t, name) {
			t.Errorf("%s served other bytes than the file", url)
		}
		s.get("/static/" + name).status(200).cacheControl("public, max-age=3600")
		s.get("/static/" + name + "?v=0123456789abcdef").status(200).cacheControl("no-cache")
	}
	s.get("/static/nope.css?v=0123456789abcdef").status(404)
	s.get("/user/sign-in").status(200).contains(assetURL(t, page, "css/app.css"))
}

// TestStaticTextIsServedGzippedWhenAccepted: a client that accepts gzip
// gets the text files compressed (bytes that decompress to the file,
// with their own length and ETag); one that does not, or refuses it,
// gets them plain; both answers say they vary by Accept-Encoding. HEAD
// tells what GET would send; a Range request gets plain bytes at the
// offsets it asked for; a conditional request gets a 304 or a 412.
func TestStaticTextIsServedGzippedWhenAccepted(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	const name = "css/app.css"
	url := assetURL(t, s.get("/").body, name)
	file := staticFile(t, name)

	for _, accept := range []string{"gzip", "gzip, deflate, br, zstd", "br;q=1.0, gzip;q=0.8", "*", "x-gzip"} {
		r := s.get(url, "Accept-Encoding", accept).status(200).
			header("Content-Encoding", "gzip").header("Vary", "Accept-Encoding").headerPrefix("Content-Type", "text/css").
			cacheControl("public, max-age=31536000, immutable")
		zr, err := gzip.NewReader(bytes.NewReader(r.rec.Body.Bytes()))
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", accept, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || string(plain) != file {
			t.Errorf("Accept-Encoding %q: the gzip body does not decompress to the file (%v)", accept, err)
		}
		if r.rec.Body.Len() >= len(file) {
			t.Errorf("Accept-Encoding %q: %d compressed bytes for a %d-byte file", accept, r.rec.Body.Len(), len(file))
		}
		if got := r.rec.Header().Get("Content-Length"); got != strconv.Itoa(r.rec.Body.Len()) {
			t.Errorf("Accept-Encoding %q: Content-Length %s for %d bytes", accept, got, r.rec.Body.Len())
		}
	}

	var plainETag string
	for _, accept := range []string{"", "identity", "br", "gzip;q=0", "*;q=0", "*, gzip;q=0"} {
		r := s.get(url, "Accept-Encoding", accept).status(200).header("Content-Encoding", "").header("Vary", "Accept-Encoding")
		if r.body != file {
			t.Errorf("Accept-Encoding %q: the plain body is not the file", accept)
		}
		plainETag = r.rec.Header().Get("ETag")
	}

	gz := s.get(url, "Accept-Encoding", "gzip")
	gzETag := gz.rec.Header().Get("ETag")
	if gzETag == "" || plainETag == "" || gzETag == plainETag {
		t.Errorf("ETags: gzip %q, plain %q; want two different ones", gzETag, plainETag)
	}

	head := httptest.NewRequest(http.MethodHead, url, nil)
	head.Header.Set("Accept-Encoding", "gzip")
	s.do(head).status(200).header("Content-Encoding", "gzip").header("Content-Length", gz.rec.Header().Get("Content-Length")).header("Vary", "Accept-Encoding")

	r := s.get(url, "Accept-Encoding", "gzip", "Range", "bytes=0-9").status(206).header("Content-Encoding", "")
	if r.body != file[:10] {
		t.Errorf("Range 0-9 = %q, want %q", r.body, file[:10])
	}

	s.get(url, "Accept-Encoding", "gzip", "If-None-Match", gzETag).status(304)
	s.get(url, "If-None-Match", plainETag).status(304)
	s.get(url, "Accept-Encoding", "gzip", "If-None-Match", plainETag).status(200).header("Content-Encoding", "gzip")
	// A failed If-Match is an empty 412 that claims no encoding, and no
	// freshness: a shared cache must not keep it for the file's year.
	s.get(url, "Accept-Encoding", "gzip", "If-Match", `"not-this"`).status(412).header("Content-Encoding", "").header("Cache-Control", "")
}

// TestDevelopmentVersionsStaticFilesByTheirContentOnDisk: in
// development the static files are read from disk, and an edited file
// gets a new URL on the next page at once; the old URL still answers,
// with the new bytes, but is no longer cached for long.
func TestDevelopmentVersionsStaticFilesByTheirContentOnDisk(t *testing.T) {
	// Not parallel: it changes the working directory.
	work := t.TempDir()
	for _, dir := range []string{"templates", "static"} {
		if err := os.CopyFS(filepath.Join(work, dir), os.DirFS(filepath.Join("../..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(work)

	s := devSite(t, nil)
	before := assetURL(t, s.get("/").status(200).body, "css/app.css")
	s.get(before).status(200).cacheControl("public, max-age=31536000, immutable")

	css := filepath.Join(work, "static", "css", "app.css")
	b, err := os.ReadFile(css)
	if err != nil {
		t.Fatal(err)
	}
	edited := string(b) + "\n.edited-while-running { color: red; }\n"
	if err := os.WriteFile(css, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	after := assetURL(t, s.get("/").status(200).body, "css/app.css")
	if after == before {
		t.Fatalf("the edited file kept its URL %s", before)
	}
	if r := s.get(after).status(200).cacheControl("public, max-age=31536000, immutable"); r.body != edited {
		t.Error("the new URL does not serve the edited file")
	}
	s.get(before).status(200).cacheControl("no-cache").contains(".edited-while-running")
}
