package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// defaultUIBase is the version the interface is measured beside unless
// BENCH_UI_BASE names another (a commit, tag or branch of this
// repository; "-" measures this version alone): the last commit with the
// document-style pages, before the app shell and the design system.
const defaultUIBase = "15e32ed"

// weightBudget is the most CSS, JS and fonts a signed-in page may send,
// compressed.
const weightBudget = 60 << 10

// assetWeight is one file a page loads, as the site sends it to a browser
// that accepts gzip and brotli.
type assetWeight struct {
	path, kind string
	raw, sent  int64
	encoding   string
}

// counted is whether the file counts towards the page's weight: its
// CSS, JavaScript and fonts (images and icons load after the first
// render and are cached like the rest).
func (a assetWeight) counted() bool { return a.kind == "css" || a.kind == "js" || a.kind == "font" }

// uiVersion is one measured version of the interface.
type uiVersion struct {
	name     string
	html     int64 // the signed-in home's HTML, as sent
	assets   []assetWeight
	renders  []render
	skipped  string
	fcpError string
}

// render is one cold load of the signed-in home in headless Chromium.
type render struct{ fcp, load time.Duration }

func (v uiVersion) weight() (raw, sent int64) {
	for _, a := range v.assets {
		if a.counted() {
			raw, sent = raw+a.raw, sent+a.sent
		}
	}
	return raw, sent
}

func (v uiVersion) median(f func(render) time.Duration) time.Duration {
	ds := make([]time.Duration, len(v.renders))
	for i, r := range v.renders {
		ds[i] = f(r)
	}
	return median(ds)
}

// uiRuns measures what the signed-in home costs a browser, in this
// version and in the baseline version: the weight of its CSS, JS and
// fonts as sent, and the time to its first contentful paint and load
// event in headless Chromium with the cache off, the two versions taking
// turns.
func (b *bench) uiRuns(ctx context.Context) error {
	cur := &uiVersion{name: "this version"}
	sites := []*site{}
	versions := []*uiVersion{cur}
	defer func() {
		for _, s := range sites {
			_ = s.stop()
		}
	}()
	s, err := b.uiSite(ctx, b.bin["web"], b.bin["manage"])
	if err != nil {
		return err
	}
	sites = append(sites, s)
	base := &uiVersion{name: "baseline"}
	rev := b.getenv("BENCH_UI_BASE")
	if rev == "" {
		rev = defaultUIBase
	}
	var baseSite *site
	if rev == "-" {
		base.skipped = "BENCH_UI_BASE is -"
	} else {
		base.name = "baseline: " + rev
		b.logf("building the interface baseline %s", rev)
		web, manage, err := b.buildRevision(ctx, rev)
		if err != nil {
			base.skipped = err.Error()
		} else if baseSite, err = b.uiSite(ctx, web, manage); err != nil {
			return fmt.Errorf("baseline %s: %w", rev, err)
		} else {
			sites = append(sites, baseSite)
		}
	}
	versions = append(versions, base)
	b.rep.ui = versions

	live := map[*uiVersion]*site{cur: s}
	if baseSite != nil {
		live[base] = baseSite
	}
	for _, v := range versions {
		st := live[v]
		if st == nil {
			continue
		}
		if v.html, v.assets, err = pageWeight(st.base, st.cookie); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	b.logf("interface weight: %d bytes of CSS, JS and fonts sent", func() int64 { _, s := cur.weight(); return s }())

	chrome := chromePath()
	if chrome == "" {
		for _, v := range versions {
			v.fcpError = "no Chromium found (apt-get install chromium, or set CHROME_PATH)"
		}
		return nil
	}
	alloc, cancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.UserDataDir(filepath.Join(b.dir, "chromium")),
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 800))...)
	defer cancel()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		for _, v := range versions {
			v.fcpError = "Chromium did not start: " + err.Error()
		}
		return nil
	}
	// One unrecorded load of each warms the processes and Chromium.
	for i := -1; i < b.opts.renders; i++ {
		for _, v := range versions {
			st := live[v]
			if st == nil {
				continue
			}
			r, err := coldRender(browser, st.base, st.cookie)
			if err != nil {
				v.fcpError = err.Error()
				continue
			}
			if i >= 0 {
				v.renders = append(v.renders, r)
			}
		}
	}
	return nil
}

// uiSite starts web on a database prepared with manage and signs the
// bench account in.
func (b *bench) uiSite(ctx context.Context, web, manage string) (*site, error) {
	dbURL := b.sqliteDB()
	env := b.env("127.0.0.1:0", dbURL, "database")
	if err := b.manageWith(ctx, manage, env, "", "migrate", "up"); err != nil {
		return nil, err
	}
	if err := b.manageWith(ctx, manage, env, benchPassword+"\n", "user", "create", "--email", benchEmail, "--role", "admin", "--password-stdin"); err != nil {
		return nil, err
	}
	s, err := b.startWebBin(web, dbURL, "database")
	if err != nil {
		return nil, err
	}
	if s.cookie, err = signIn(s.base, benchEmail, loopback(1)); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// buildRevision builds bin/web and bin/manage of another commit of this
// repository, from `git archive`, the way binaries builds this one.
func (b *bench) buildRevision(ctx context.Context, rev string) (web, manage string, err error) {
	src := filepath.Join(b.dir, "ui-base-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	archive := exec.CommandContext(ctx, "git", "-C", moduleRoot(), "archive", "--format=tar", rev)
	var tarball bytes.Buffer
	var stderr strings.Builder
	archive.Stdout, archive.Stderr = &tarball, &stderr
	if err := archive.Run(); err != nil {
		return "", "", fmt.Errorf("git archive %s: %v %s", rev, err, strings.TrimSpace(stderr.String()))
	}
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	untar.Stdin = &tarball
	if out, err := untar.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("untar %s: %v\n%s", rev, err, out)
	}
	out := filepath.Join(b.dir, "ui-base-bin")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "nodev", "-trimpath", "-ldflags=-s -w", "-o", out+string(os.PathSeparator), "./cmd/web", "./cmd/manage")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if o, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build %s: %v\n%s", rev, err, o)
	}
	return filepath.Join(out, "web"), filepath.Join(out, "manage"), nil
}

var (
	tagRE   = regexp.MustCompile(`(?is)<(link|script)\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)\b(rel|href|src)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	fontRE  = regexp.MustCompile(`(?i)url\(\s*['"]?([^'")]+\.(?:woff2?|ttf|otf))`)
	useRE   = regexp.MustCompile(`(?i)<use\b[^>]*\bhref="([^"#]+)#`)
	imageRE = regexp.MustCompile(`(?i)<img\b[^>]*\bsrc="([^"]+)"`)
)

// subresources lists what the HTML page loads, in order and once each:
// path and kind (css, js, font, icon, image).
func subresources(html string) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	add := func(p, kind string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, [2]string{p, kind})
		}
	}
	for _, tag := range tagRE.FindAllStringSubmatch(html, -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(tag[0], -1) {
			attrs[strings.ToLower(a[1])] = strings.Trim(a[2], `"'`)
		}
		switch strings.ToLower(tag[1]) {
		case "script":
			add(attrs["src"], "js")
		case "link":
			rels := strings.Fields(strings.ToLower(attrs["rel"]))
			switch {
			case slices.Contains(rels, "stylesheet"):
				add(attrs["href"], "css")
			case slices.Contains(rels, "icon"):
				add(attrs["href"], "icon")
			case slices.Contains(rels, "preload"), slices.Contains(rels, "modulepreload"):
				add(attrs["href"], kindOf(attrs["href"]))
			}
		}
	}
	for _, m := range useRE.FindAllStringSubmatch(html, -1) {
		add(m[1], "icon")
	}
	for _, m := range imageRE.FindAllStringSubmatch(html, -1) {
		add(m[1], "image")
	}
	return out
}

func kindOf(p string) string {
	switch ext := strings.ToLower(filepath.Ext(strings.SplitN(p, "?", 2)[0])); ext {
	case ".css":
		return "css"
	case ".js", ".mjs":
		return "js"
	case ".woff", ".woff2", ".ttf", ".otf":
		return "font"
	default:
		return "image"
	}
}

// pageWeight fetches the signed-in home and everything it loads (fonts
// named by its stylesheets too) as a browser accepting gzip and brotli
// would, and returns the HTML's size as sent and each file's weight.
func pageWeight(base string, cookie *http.Cookie) (int64, []assetWeight, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	fetch := func(p string) (raw []byte, sent int64, enc string, err error) {
		u, err := url.Parse(base)
		if err != nil {
			return nil, 0, "", err
		}
		ref, err := url.Parse(p)
		if err != nil {
			return nil, 0, "", err
		}
		req, _ := http.NewRequest(http.MethodGet, u.ResolveReference(ref).String(), nil)
		req.Header.Set("Accept-Encoding", "br, gzip")
		req.AddCookie(cookie)
		res, err := client.Do(req)
		if err != nil {
			return nil, 0, "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return nil, 0, "", err
		}
		if res.StatusCode != http.StatusOK {
			return nil, 0, "", fmt.Errorf("GET %s: %d", p, res.StatusCode)
		}
		enc = res.Header.Get("Content-Encoding")
		raw = body
		switch enc {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, 0, "", fmt.Errorf("GET %s: %w", p, err)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return nil, 0, "", fmt.Errorf("GET %s: %w", p, err)
			}
		case "", "identity":
			enc = "none"
		default:
			return nil, 0, "", fmt.Errorf("GET %s: cannot measure encoding %q", p, enc)
		}
		return raw, int64(len(body)), enc, nil
	}
	html, sent, _, err := fetch("/")
	if err != nil {
		return 0, nil, err
	}
	if !bytes.Contains(html, []byte(benchEmail)) {
		return 0, nil, errors.New("the home page does not show the signed-in bench account")
	}
	var assets []assetWeight
	todo := subresources(string(html))
	for i := 0; i < len(todo); i++ {
		p, kind := todo[i][0], todo[i][1]
		raw, n, enc, err := fetch(p)
		if err != nil {
			return 0, nil, err
		}
		assets = append(assets, assetWeight{path: p, kind: kind, raw: int64(len(raw)), sent: n, encoding: enc})
		if kind == "css" {
			for _, m := range fontRE.FindAllStringSubmatch(string(raw), -1) {
				todo = append(todo, [2]string{resolve(p, m[1]), "font"})
			}
		}
	}
	return sent, assets, nil
}

// resolve is ref relative to the stylesheet at page (both site paths).
func resolve(page, ref string) string {
	b, err := url.Parse(page)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

// chromePath finds Chromium as the browser tests do: CHROME_PATH, else
// the usual names on PATH; "" when there is none.
func chromePath() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// coldRender loads base's home in a new tab with the cache off and the
// session cookie set, and reads the first contentful paint and the load
// event from the page's own performance timeline.
func coldRender(browser context.Context, base string, cookie *http.Cookie) (render, error) {
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	tab, cancelTimeout := context.WithTimeout(tab, 30*time.Second)
	defer cancelTimeout()
	type timing struct {
		FCP  float64 `json:"fcp"`
		Load float64 `json:"load"`
	}
	err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetCookie, network.SetCookieParams{Name: cookie.Name, Value: cookie.Value, URL: base + "/"})
		return err
	}), chromedp.Navigate(base+"/"))
	var got timing
	if err == nil {
		got, err = chromedp.Run(tab, chromedp.Poll[timing](`(() => {
			const p = performance.getEntriesByName("first-contentful-paint")[0];
			const n = performance.getEntriesByType("navigation")[0];
			return p && n && n.loadEventEnd > 0 ? {fcp: p.startTime, load: n.loadEventEnd} : null;
		})()`, chromedp.WithPollingTimeout(10*time.Second)))
	}
	if err != nil {
		return render{}, fmt.Errorf("render %s: %w", base, err)
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	return render{fcp: ms(got.FCP), load: ms(got.Load)}, nil
}

// uiMarkdown is the report's section on the interface.
func (r *report) uiMarkdown() string {
	if len(r.ui) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## Interface weight and first render\n\n")
	b.WriteString("The signed-in home of an admin, fetched as a browser accepting gzip and brotli would: the\n")
	b.WriteString("page, then every stylesheet, script, font and icon file it loads. The weight is what its CSS,\n")
	b.WriteString("JavaScript and fonts cost as sent (icons and images are not counted). The first render is the\n")
	b.WriteString("page's own `first-contentful-paint` and load event in headless Chromium at 1280 × 800, cache\n")
	b.WriteString("off, a new tab each time, this version and the baseline taking turns over loopback.\n\n")
	b.WriteString("| version | file | kind | size | sent | encoding |\n|---|---|---|--:|--:|---|\n")
	for _, v := range r.ui {
		if v.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | |\n", v.name, v.skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | the page (HTML) | html | | %s | |\n", v.name, kib(v.html))
		for _, a := range v.assets {
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", v.name, a.path, a.kind, kib(a.raw), kib(a.sent), a.encoding)
		}
		raw, sent := v.weight()
		fmt.Fprintf(&b, "| %s | **CSS + JS + fonts** | | %s | **%s** | |\n", v.name, kib(raw), kib(sent))
	}
	b.WriteString("\n| version | first contentful paint, median | range | load event, median | × baseline (paint) |\n|---|--:|--:|--:|--:|\n")
	var baseFCP time.Duration
	if len(r.ui) > 1 && len(r.ui[1].renders) > 0 {
		baseFCP = r.ui[1].median(func(x render) time.Duration { return x.fcp })
	}
	for _, v := range r.ui {
		switch {
		case v.skipped != "":
			fmt.Fprintf(&b, "| %s | skipped: %s | | | |\n", v.name, v.skipped)
		case len(v.renders) == 0:
			fmt.Fprintf(&b, "| %s | skipped: %s | | | |\n", v.name, v.fcpError)
		default:
			fcp := v.median(func(x render) time.Duration { return x.fcp })
			lo := slices.MinFunc(v.renders, func(a, b render) int { return int(a.fcp - b.fcp) }).fcp
			hi := slices.MaxFunc(v.renders, func(a, b render) int { return int(a.fcp - b.fcp) }).fcp
			ratio := "—"
			if baseFCP > 0 && v != r.ui[1] {
				ratio = fmt.Sprintf("%.2f", float64(fcp)/float64(baseFCP))
			}
			fmt.Fprintf(&b, "| %s (%d loads) | %s | %s–%s | %s | %s |\n", v.name, len(v.renders), ms(fcp), ms(lo), ms(hi),
				ms(v.median(func(x render) time.Duration { return x.load })), ratio)
		}
	}
	return b.String()
}

func kib(n int64) string { return fmt.Sprintf("%.1f KiB", float64(n)/1024) }
