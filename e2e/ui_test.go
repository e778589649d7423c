package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// missingIcons fetches each sprite the page's <use> elements name and
// lists the references whose symbol the sprite lacks, and the icons
// that drew nothing (a sprite that did not load).
const missingIcons = `(async () => {
  const uses = [...document.querySelectorAll("svg use")];
  const sprites = {};
  const missing = [];
  for (const u of uses) {
    const [url, id] = u.getAttribute("href").split("#");
    if (!(url in sprites)) {
      const text = await (await fetch(url)).text();
      sprites[url] = new DOMParser().parseFromString(text, "image/svg+xml");
    }
    if (!id || !sprites[url].getElementById(id)) missing.push("no symbol for " + u.getAttribute("href"));
    const svg = u.closest("svg");
    if (svg.getBoundingClientRect().width > 0 && u.getBBox().width === 0) missing.push("nothing drawn for " + id);
  }
  return uses.length + ":" + missing.join(", ");
})()`

// TestDevUIStyleGuideInBothThemes: the living style guide (/dev/ui)
// renders in the light and the dark scheme at 360 and 1280 px with no
// browser error (a CSP violation included), no sideways scrolling (an
// open confirmation included), and
// every icon it draws found in the sprite. The theme follows the
// system's scheme, and the toggle cycles system → light → dark →
// system, remembered across pages. With E2E_SCREENSHOTS=1 each is saved.
func TestDevUIStyleGuideInBothThemes(t *testing.T) {
	b := newBrowser(t)
	base, _ := site(t, map[string]string{"ENV": "development"})

	background := map[string]string{}
	for _, scheme := range []string{"light", "dark"} {
		for _, width := range []int64{360, 1280} {
			b.do(t, colorScheme(scheme), chromedp.EmulateViewport(width, 900),
				chromedp.Navigate(base+"/dev/ui"), chromedp.WaitVisible(chromedp.CSS("#icons")),
				// Open, the confirmation's question and button must fit too.
				chromedp.Evaluate[chromedp.Void](`document.querySelector("details.confirm").open = true`))
			if got := get(t, b, chromedp.Evaluate[int64]("document.documentElement.scrollWidth")); got > width {
				t.Errorf("/dev/ui at %d px (%s) scrolls sideways: the page is %d px wide", width, scheme, got)
			}
			icons := get(t, b, chromedp.Evaluate[string](missingIcons, chromedp.EvalAwaitPromise))
			n, missing, _ := strings.Cut(icons, ":")
			if n == "0" || missing != "" {
				t.Errorf("/dev/ui (%s, %d px) draws %s icons; problems: %s", scheme, width, n, missing)
			}
			background[scheme] = get(t, b, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
			b.screenshot(t, fmt.Sprintf("dev-ui-%d-%s", width, scheme))
		}
	}
	if background["light"] == background["dark"] {
		t.Errorf("the page has the same background, %s, in both schemes", background["light"])
	}

	// The toggle: shown with JavaScript on, each click the next theme.
	b.do(t, colorScheme("light"), chromedp.Navigate(base+"/dev/ui"), chromedp.WaitVisible(chromedp.CSS("[data-theme-toggle]")))
	state := `document.documentElement.getAttribute("data-theme") + " " + localStorage.getItem("theme") + " " +
		document.querySelector("[data-theme-label]").textContent + " " + getComputedStyle(document.body).backgroundColor`
	for _, want := range []string{"light light Theme: light " + background["light"], "dark dark Theme: dark " + background["dark"], "null null Theme: system " + background["light"]} {
		b.do(t, chromedp.Click(chromedp.CSS("[data-theme-toggle]")))
		if got := get(t, b, chromedp.Evaluate[string](state)); got != want {
			t.Errorf("after a click on the toggle: %q, want %q", got, want)
		}
	}
	b.do(t, chromedp.Click(chromedp.CSS("[data-theme-toggle]")), chromedp.Click(chromedp.CSS("[data-theme-toggle]")),
		chromedp.Navigate(base+"/dev"), chromedp.WaitVisible(chromedp.CSS("main")))
	if got := get(t, b, chromedp.Evaluate[string](`document.documentElement.getAttribute("data-theme")`)); got != "dark" {
		t.Errorf("the next page's theme is %q, want the chosen dark", got)
	}

	// A menu closes on Escape and on a click elsewhere.
	open := `document.querySelector("details.menu").open`
	b.do(t, chromedp.Navigate(base+"/dev/ui"), chromedp.WaitVisible(chromedp.CSS("#menus")),
		chromedp.Click(chromedp.CSS("details.menu > summary")))
	if !get(t, b, chromedp.Evaluate[bool](open)) {
		t.Fatal("the menu did not open")
	}
	b.do(t, chromedp.KeyEvent("\x1b"))
	if get(t, b, chromedp.Evaluate[bool](open)) {
		t.Error("Escape left the menu open")
	}
	b.do(t, chromedp.Click(chromedp.CSS("details.menu > summary")), chromedp.Click(chromedp.CSS("#menus-title")))
	if get(t, b, chromedp.Evaluate[bool](open)) {
		t.Error("a click elsewhere left the menu open")
	}

	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}
