package storage

import (
	"bytes"
	"mime"
	"net/http"
	"strings"
)

// types are the content types a stored file may have, with the extension
// its key gets. A file whose bytes say anything else is kept as
// application/octet-stream (.bin) — never as HTML, SVG or script.
var types = map[string]string{
	"image/png":                ".png",
	"image/jpeg":               ".jpg",
	"image/gif":                ".gif",
	"image/webp":               ".webp",
	"application/pdf":          ".pdf",
	"application/zip":          ".zip",
	"text/plain":               ".txt",
	"application/octet-stream": ".bin",
}

// inline are the types a browser may show in place (Download.Inline):
// raster images, which cannot run script.
var inline = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Inlineable reports whether files of contentType may be shown in the
// browser rather than saved.
func Inlineable(contentType string) bool { return inline[contentType] }

// Extension is the extension the key of a file of contentType gets.
func Extension(contentType string) string {
	if ext, ok := types[contentType]; ok {
		return ext
	}
	return ".bin"
}

// TypeOfKey is the content type a key's extension stands for
// (application/octet-stream for any other).
func TypeOfKey(key string) string {
	slash := strings.LastIndexByte(key, '/')
	dot := strings.LastIndexByte(key, '.')
	if dot > slash {
		ext := key[dot:]
		for t, e := range types {
			if e == ext {
				return t
			}
		}
	}
	return "application/octet-stream"
}

// startsWithTag reports whether text opens with markup: its first
// character, past a byte order mark, white space (and the zero bytes of
// UTF-16), is '<'.
func startsWithTag(text []byte) bool {
	for _, bom := range [][]byte{{0xef, 0xbb, 0xbf}, {0xfe, 0xff}, {0xff, 0xfe}} {
		if bytes.HasPrefix(text, bom) {
			text = text[len(bom):]
			break
		}
	}
	text = bytes.TrimLeft(text, "\t\n\f\r \x00")
	return len(text) > 0 && text[0] == '<'
}

// SniffLen is how many leading bytes Sniff reads.
const SniffLen = 512

// Sniff says what the first bytes of a file are, by their content alone
// (net/http's sniffing algorithm), as one of the types above. HTML, XML
// (and so SVG, with or without an XML declaration: any text that opens
// with a tag), script and anything unknown are
// application/octet-stream; other text is text/plain.
func Sniff(head []byte) string {
	if len(head) == 0 {
		return "application/octet-stream"
	}
	t, _, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		return "application/octet-stream"
	}
	switch {
	case t == "text/plain" && startsWithTag(head):
		// http.DetectContentType knows HTML by a few tags only: an SVG
		// (<svg onload=...>) or a namespaced <x:script> without an XML
		// declaration reads to it as plain text.
		return "application/octet-stream"
	case t == "text/plain":
		return t
	case strings.HasPrefix(t, "text/"):
		// text/html, text/xml: what a browser would run.
		return "application/octet-stream"
	}
	if _, ok := types[t]; ok {
		return t
	}
	return "application/octet-stream"
}
