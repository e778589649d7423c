package e2e_test

// Helpers of the accessibility, layout and keyboard checks
// (pages_test.go, keyboard_test.go): axe-core, found where `make axe`
// keeps it, run in the page through the DevTools protocol; the layout
// measures; form submission and waiting for the page that answers.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// axeVersion reads the pinned axe-core version from axe.version.
func axeVersion(t *testing.T) string {
	t.Helper()
	f, err := os.Open("axe.version")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "version "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("axe.version names no version")
	return ""
}

// axeSource returns axe.min.js: the file AXE_JS names, else the copy
// `make axe` (go run ./tools/axe) keeps in the user's cache. Without it
// the second result is a sentence saying how to get it — and the test
// fails when CI_REQUIRE_AXE=1 (as .ci/run sets), since there an
// accessibility check that did not run must not pass unseen.
func axeSource(t *testing.T) (string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests start Chromium: not in -short")
	}
	version := axeVersion(t)
	path := os.Getenv("AXE_JS")
	if path == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			path = filepath.Join(dir, "launchkit", "axe-core-"+version, "axe.min.js")
		}
	}
	src, err := os.ReadFile(path)
	if err == nil && len(src) > 0 {
		return string(src), ""
	}
	why := fmt.Sprintf("axe-core %s is not at %q (%v): run `make axe` (go run ./tools/axe, which downloads it from the npm registry) or set AXE_JS to an axe.min.js", version, path, err)
	if os.Getenv("CI_REQUIRE_AXE") == "1" {
		t.Fatalf("CI_REQUIRE_AXE=1, but %s", why)
	}
	return "", why
}

// newTimedBrowser is newBrowser with a longer deadline, for the tests
// that walk the whole site in one tab.
func newTimedBrowser(t *testing.T, d time.Duration) *browser {
	t.Helper()
	return startBrowser(t, d, chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 800))
}

// watchCSP makes every document the tab loads record the Content
// Security Policy violations it sees (the securitypolicyviolation event,
// listened for by a script the DevTools protocol adds, which the policy
// does not govern); cspViolations reads them. The console reports most of
// them too; the event misses none.
func watchCSP(t *testing.T, b *browser) {
	t.Helper()
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
			window.__lkCSP = [];
			document.addEventListener("securitypolicyviolation", (e) => window.__lkCSP.push(
				e.effectiveDirective + " refused " + (e.blockedURI || "inline code") +
				(e.sourceFile ? " (" + e.sourceFile + ":" + e.lineNumber + ")" : "")));`})
		return err
	}))
}

// cspViolations returns the violations the current document recorded
// since the last call.
func cspViolations(t *testing.T, b *browser) []string {
	t.Helper()
	out := get(t, b, chromedp.Evaluate[string](`JSON.stringify((window.__lkCSP || []).splice(0))`))
	var vs []string
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatal(err)
	}
	return vs
}

// drain returns the problems reported since the last drain and forgets
// them.
func (b *browser) drain() []string {
	_, _ = chromedp.Run(b.ctx, chromedp.Evaluate[int]("0"))
	time.Sleep(50 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.problems
	b.problems = nil
	return out
}

// clearCookies signs the tab out of every session.
func clearCookies() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	})
}

// markPage tags the current <main> and its first child so that settled
// can tell when another page has replaced them — by a full load (a new
// window has no marks) or by an htmx swap of the body or of <main>.
const markPage = `(() => {
	const m = document.querySelector("main");
	window.__lkMarks = [m, m && m.firstElementChild].filter(Boolean);
	return 0;
})()`

// settled waits until the page has loaded, something markPage (or submit)
// tagged has left the document, no htmx request is in flight, and two
// frames have been painted.
func settled(t *testing.T, b *browser) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(() => {
			const marks = window.__lkMarks || [];
			return document.readyState === "complete" && !!document.querySelector("main") &&
				(marks.length === 0 || marks.some(e => !e.isConnected)) &&
				!document.querySelector(".htmx-request, .htmx-settling, .htmx-swapping");
		})()`))
		if err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			url, _ := chromedp.Run(b.ctx, chromedp.Location())
			t.Fatalf("the page at %s did not change or settle within 20 s: no new page loaded, nothing swapped in (last error %v)", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	painted(t, b)
}

// painted waits for two animation frames, then for the page's finite
// CSS transitions and animations to end (at most 2 s): styles and layout
// are current — a colour being eased from the light theme to the dark
// one would otherwise be measured halfway.
func painted(t *testing.T, b *browser) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))
		.then(() => Promise.race([
			Promise.all(document.getAnimations()
				.filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
				.map(a => a.finished.catch(() => 0))),
			new Promise(r => setTimeout(r, 2000)),
		]))
		.then(() => 0)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
}

// submit fills the form holding the field named by the first key of
// fields (in order) and submits it as a person would (requestSubmit: the
// submit event fires, so htmx or app.js see it), then waits for the
// answer.
func submit(t *testing.T, b *browser, fields [][2]string) {
	t.Helper()
	js, _ := json.Marshal(fields)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](markPage)); err != nil {
		t.Fatal(err)
	}
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`((fields) => {
		const first = document.querySelector("form [name='" + fields[0][0] + "']");
		if (!first) throw new Error("no form field named " + fields[0][0]);
		const form = first.form;
		window.__lkMarks.push(form, form.firstElementChild); // an htmx swap of the form alone
		for (const [name, value] of fields) {
			const el = form.elements.namedItem(name);
			if (!el) throw new Error("the form has no field named " + name);
			el.value = value;
		}
		form.requestSubmit();
		return true;
	})(`+string(js)+`)`))
	if err != nil {
		t.Fatalf("submitting %v: %v", fields, err)
	}
	settled(t, b)
}

// axeViolation is one rule axe-core found broken, with how many elements
// break it and the first few of them.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Nodes   int      `json:"nodes"`
	Targets []string `json:"targets"`
}

// runAxe checks the current page with axe-core (source axe.min.js,
// evaluated through the DevTools protocol — Runtime.evaluate, which the
// page's Content-Security-Policy does not govern, so no <script> is
// added), for WCAG 2.0/2.1 A and AA and axe's best practices. Frames are
// left out: the only one, the dev mail viewer's, shows a mail, not a
// page of ours.
func runAxe(t *testing.T, b *browser, source string) []axeViolation {
	t.Helper()
	loaded, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded {
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](source+"\n;0")); err != nil {
			t.Fatalf("loading axe-core into the page: %v", err)
		}
	}
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa", "best-practice"]},
		resultTypes: ["violations"],
		iframes: false,
	}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact || "minor", help: v.help, nodes: v.nodes.length,
		targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
	}))))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe-core's answer %q: %v", out, err)
	}
	return vs
}

// layoutProblems measures the page at its current width: the document
// must not scroll sideways, and no visible element may stick out of the
// screen at the left or right (which html/body overflow-x: hidden would
// only hide). Elements inside a box that scrolls or clips horizontally
// are that box's business (a .table-scroll); elements wholly off to the
// left are the usual "hidden until focused" idiom (a skip link).
func layoutProblems(t *testing.T, b *browser) []string {
	t.Helper()
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
		const vw = window.innerWidth, problems = [];
		const doc = document.documentElement.scrollWidth;
		if (doc > vw) problems.push("the document is " + doc + " px wide: it scrolls sideways");
		const describe = (el) => {
			let s = el.tagName.toLowerCase();
			if (el.id) s += "#" + el.id;
			if (typeof el.className === "string" && el.className.trim()) s += "." + el.className.trim().split(/\s+/).join(".");
			return s;
		};
		const clippedByBox = (el) => {
			for (let p = el.parentElement; p && p !== document.body && p !== document.documentElement; p = p.parentElement) {
				const ox = getComputedStyle(p).overflowX;
				if (ox !== "visible") return true;
			}
			return false;
		};
		let n = 0;
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.width <= 1 || r.height <= 1) continue;
			if (r.right <= 0) continue;
			if (r.left >= -1 && r.right <= vw + 1) continue;
			// Not rendered: hidden, or inside a closed <details> (content-visibility).
			if (!el.checkVisibility({visibilityProperty: true, contentVisibilityAuto: true})) continue;
			if (getComputedStyle(el).position === "fixed" && r.left >= vw) continue;
			if (clippedByBox(el)) continue;
			n++;
			if (problems.length < 6) problems.push(describe(el) + " spans x " + Math.round(r.left) + ".." + Math.round(r.right) + " of a " + vw + " px screen");
		}
		if (n > 5) problems.push("… " + (n - 5) + " more elements off the screen");
		return JSON.stringify(problems);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	if err := json.Unmarshal([]byte(out), &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// viewport sets the tab's width (height 800) and waits for the layout.
func viewport(t *testing.T, b *browser, width int64) {
	t.Helper()
	b.do(t, chromedp.EmulateViewport(width, 800))
	painted(t, b)
}

// saveScreenshot writes a full-page PNG to screenshots/NAME.png when
// E2E_SCREENSHOTS=1 (and takes none otherwise).
func saveScreenshot(t *testing.T, b *browser, name string) {
	t.Helper()
	if os.Getenv("E2E_SCREENSHOTS") != "1" {
		return
	}
	b.screenshot(t, name)
}

// accessible checks the page the browser shows with axe-core in both
// colour schemes, as TestEveryPageIsAccessibleAndFits checks the site's
// own pages: a violation of impact serious or critical fails the test,
// the others are logged. It is what a page of your own calls (the guide,
// docs/adding-a-feature.md, does for a generated resource). Without
// axe-core it logs how to get it (and fails under CI_REQUIRE_AXE=1).
func accessible(t *testing.T, b *browser, name string) {
	t.Helper()
	source, why := axeSource(t)
	if source == "" {
		t.Log(why)
		return
	}
	for _, theme := range []string{"light", "dark"} {
		b.do(t, colorScheme(theme))
		painted(t, b)
		for _, v := range runAxe(t, b, source) {
			msg := fmt.Sprintf("%s (%s): axe %s %s — %s: %d element(s), e.g. %s", name, theme, v.Impact, v.ID, v.Help, v.Nodes, strings.Join(v.Targets, " | "))
			if v.Impact == "critical" || v.Impact == "serious" {
				t.Error(msg)
			} else {
				t.Log(msg)
			}
		}
	}
	b.do(t, colorScheme("light"))
}
