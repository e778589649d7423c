package storage_test

import (
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/storage"
)

// TestSniff: the type of a file is what its first bytes say, and anything
// a browser could run as a page is application/octet-stream.
func TestSniff(t *testing.T) {
	t.Parallel()
	const svgNS = `xmlns="http://www.w3.org/2000/svg"`
	tests := []struct {
		name, head, want string
	}{
		{"png", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"},
		{"jpeg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"},
		{"gif", "GIF89a\x01\x00\x01\x00", "image/gif"},
		{"webp", "RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"},
		{"pdf", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "application/pdf"},
		{"zip", "PK\x03\x04\x14\x00\x00\x00", "application/zip"},
		{"text", "Dear diary,\nnothing happened.\n", "text/plain"},
		{"utf-8 text", "Journal d'été, rien à signaler.\n", "text/plain"},
		{"empty", "", "application/octet-stream"},
		{"binary", "\x00\x01\x02\x03\xfe\xff", "application/octet-stream"},
		{"html", "<!DOCTYPE html><html><script>alert(1)</script>", "application/octet-stream"},
		{"html after spaces", "  \n\t<script>alert(document.cookie)</script>", "application/octet-stream"},
		{"html comment", "<!-- hi --><svg onload=alert(1)>", "application/octet-stream"},
		{"xml", `<?xml version="1.0"?><note/>`, "application/octet-stream"},
		{"svg with xml declaration", `<?xml version="1.0"?><svg ` + svgNS + `><script>alert(1)</script></svg>`, "application/octet-stream"},
		{"svg with script", `<svg ` + svgNS + `><script>alert(1)</script></svg>`, "application/octet-stream"},
		{"svg after a byte order mark", "\xef\xbb\xbf<svg onload=alert(1)>", "application/octet-stream"},
		{"svg after spaces", "\r\n  <svg onload=alert(1)>", "application/octet-stream"},
		{"namespaced script", `<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>`, "application/octet-stream"},
		{"utf-16 svg", "\xff\xfe<\x00s\x00v\x00g\x00 \x00o\x00n\x00l\x00o\x00a\x00d\x00", "application/octet-stream"},
		{"utf-16 text", "\xff\xfeh\x00i\x00", "text/plain"},
		{"text mentioning a tag", "1 < 2, and <b> is bold\n", "text/plain"},
		{"postscript", "%!PS-Adobe-3.0\n", "application/octet-stream"},
		{"javascript-looking text", "alert(document.cookie)", "text/plain"},
	}
	for _, tc := range tests {
		if got := storage.Sniff([]byte(tc.head)); got != tc.want {
			t.Errorf("%s: Sniff = %q, want %q", tc.name, got, tc.want)
		}
	}
	long := strings.Repeat("a", 10*storage.SniffLen)
	if got := storage.Sniff([]byte(long)); got != "text/plain" {
		t.Errorf("long text: %q", got)
	}
}

// TestTypesAndKeys: every allowed type has the extension its key gets
// and back, and only raster images are shown inline.
func TestTypesAndKeys(t *testing.T) {
	t.Parallel()
	for ct, ext := range map[string]string{
		"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
		"application/pdf": ".pdf", "application/zip": ".zip", "text/plain": ".txt", "application/octet-stream": ".bin",
	} {
		if got := storage.Extension(ct); got != ext {
			t.Errorf("Extension(%s) = %s, want %s", ct, got, ext)
		}
		key := storage.NewKey("docs", ct)
		if !storage.ValidKey(key) || !strings.HasPrefix(key, "docs/") || !strings.HasSuffix(key, ext) || len(key) != len("docs/")+26+len(ext) {
			t.Errorf("NewKey(docs, %s) = %q", ct, key)
		}
		if got := storage.TypeOfKey(key); got != ct {
			t.Errorf("TypeOfKey(%s) = %s, want %s", key, got, ct)
		}
		if inline := storage.Inlineable(ct); inline != strings.HasPrefix(ct, "image/") {
			t.Errorf("Inlineable(%s) = %v", ct, inline)
		}
	}
	for _, ct := range []string{"text/html", "image/svg+xml", "application/xml", "text/javascript", ""} {
		if storage.Extension(ct) != ".bin" || storage.Inlineable(ct) {
			t.Errorf("%q: extension %s, inline %v", ct, storage.Extension(ct), storage.Inlineable(ct))
		}
	}
	for _, key := range []string{"docs/page.html", "docs/x.svg", "docs/noext", "docs.png/noext", "x.js"} {
		if got := storage.TypeOfKey(key); got != "application/octet-stream" {
			t.Errorf("TypeOfKey(%s) = %s", key, got)
		}
	}
	if a, b := storage.NewKey("d", "image/png"), storage.NewKey("d", "image/png"); a == b {
		t.Errorf("two NewKeys are the same: %s", a)
	}
}

// TestVariant names the derived copies of a key beside it.
func TestVariant(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"avatars/abc.jpg":   "avatars/abc-256.jpg",
		"avatars/abc":       "avatars/abc-256",
		"avatars/v1.2/abc":  "avatars/v1.2/abc-256",
		"avatars/abc.x.png": "avatars/abc.x-256.png",
	} {
		if got := storage.Variant(key, "256"); got != want {
			t.Errorf("Variant(%s) = %s, want %s", key, got, want)
		}
		if !storage.ValidKey(storage.Variant(key, "256")) {
			t.Errorf("Variant(%s) is not a valid key", key)
		}
	}
}
