package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSubresources: what a page loads is found in its link and script
// tags whatever their attribute order and quoting, once each, with the
// icons of its sprite and its images beside; other links are not loads.
func TestSubresources(t *testing.T) {
	html := `<!doctype html><head>
<link rel="icon" href="/static/favicon.1.svg" type="image/svg+xml">
<link href='/static/css/app.2.css' rel='stylesheet'>
<link rel="canonical" href="/elsewhere">
<link rel="preload" href="/static/fonts/a.3.woff2" as="font">
<script src="/static/js/theme.4.js"></script>
<script defer src=/static/js/app.5.js></script>
<script>inline()</script>
<link rel="stylesheet" href="/static/css/app.2.css">
</head><body><svg><use href="/static/icons.6.svg#i-home"></use></svg><svg><use href="/static/icons.6.svg#i-key"></use></svg>
<img alt="" src="/static/logo.7.png"></body>`
	got := subresources(html)
	want := [][2]string{
		{"/static/favicon.1.svg", "icon"}, {"/static/css/app.2.css", "css"}, {"/static/fonts/a.3.woff2", "font"},
		{"/static/js/theme.4.js", "js"}, {"/static/js/app.5.js", "js"}, {"/static/icons.6.svg", "icon"}, {"/static/logo.7.png", "image"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("subresources:\n got %v\nwant %v", got, want)
	}
}

// TestWeightCountsCSSJSAndFonts: the page's weight is its CSS, JS and
// fonts as sent; icons do not count, and the target says so.
func TestWeightCountsCSSJSAndFonts(t *testing.T) {
	v := &uiVersion{name: "this version", html: 3000, assets: []assetWeight{
		{path: "/a.css", kind: "css", raw: 30000, sent: 7000, encoding: "gzip"},
		{path: "/b.js", kind: "js", raw: 50000, sent: 17000, encoding: "gzip"},
		{path: "/c.woff2", kind: "font", raw: 20000, sent: 20000, encoding: "none"},
		{path: "/d.svg", kind: "icon", raw: 9000, sent: 3000, encoding: "gzip"},
	}, renders: []render{{fcp: 90 * time.Millisecond, load: 120 * time.Millisecond}, {fcp: 80 * time.Millisecond, load: 100 * time.Millisecond}, {fcp: 100 * time.Millisecond, load: 130 * time.Millisecond}}}
	if raw, sent := v.weight(); raw != 100000 || sent != 44000 {
		t.Errorf("weight = %d raw, %d sent; want 100000, 44000", raw, sent)
	}
	base := &uiVersion{name: "baseline: x", html: 2000, assets: []assetWeight{{path: "/a.css", kind: "css", raw: 9000, sent: 3000, encoding: "gzip"}},
		renders: []render{{fcp: 50 * time.Millisecond, load: 60 * time.Millisecond}}}
	r := &report{ui: []*uiVersion{v, base}}
	md := r.uiMarkdown()
	for _, want := range []string{"| this version | **CSS + JS + fonts** | | 97.7 KiB | **43.0 KiB** | |", "| this version (3 loads) | 90.0 ms | 80.0 ms–100 ms | 120 ms | 1.80 |", "| baseline: x (1 loads) | 50.0 ms |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the section has no %q:\n%s", want, md)
		}
	}
	over := &uiVersion{assets: []assetWeight{{kind: "js", sent: 61 << 10}}}
	for _, c := range []struct {
		v    *uiVersion
		met  bool
		text string
	}{{v, true, "43.0 KiB"}, {over, false, "61.0 KiB"}} {
		ts := (&report{ui: []*uiVersion{c.v}}).targets()
		if len(ts) != 1 || ts[0].met != c.met || ts[0].measured != c.text {
			t.Errorf("targets for %s sent: %+v", c.text, ts)
		}
	}
}
