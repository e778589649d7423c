package e2e_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/launchkit/launchkit/internal/users"
)

// focused is what the keyboard test learns of document.activeElement.
type focused struct {
	Desc    string `json:"desc"`    // tag#id.class "text"
	InMain  bool   `json:"inMain"`  // main#main or inside it
	IsMain  bool   `json:"isMain"`  // main#main itself
	Visible bool   `json:"visible"` // rendered, not off the screen's sides
	Ring    bool   `json:"ring"`    // a focus indicator: an outline or a box-shadow
	Body    bool   `json:"body"`    // nothing has focus
}

// focusedNow describes the element that has focus.
func focusedNow(t *testing.T, b *browser) focused {
	t.Helper()
	out := get(t, b, chromedp.Evaluate[string](`(() => {
		const el = document.activeElement;
		if (!el || el === document.body || el === document.documentElement) return JSON.stringify({desc: "body", body: true});
		let desc = el.tagName.toLowerCase();
		if (el.id) desc += "#" + el.id;
		if (typeof el.className === "string" && el.className.trim()) desc += "." + el.className.trim().split(/\s+/).join(".");
		const text = (el.getAttribute("aria-label") || el.textContent || el.getAttribute("name") || "").trim().replace(/\s+/g, " ").slice(0, 40);
		if (text) desc += ' "' + text + '"';
		const main = document.getElementById("main");
		const cs = getComputedStyle(el);
		const r = el.getBoundingClientRect();
		const outline = cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) > 0;
		const shadow = cs.boxShadow && cs.boxShadow !== "none";
		return JSON.stringify({
			desc, isMain: el === main, inMain: !!main && main.contains(el),
			visible: el.checkVisibility({visibilityProperty: true}) && r.width > 1 && r.height > 1 &&
				r.right > 0 && r.left < innerWidth,
			ring: outline || !!shadow,
		});
	})()`))
	var f focused
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// press sends one key as a keyboard would.
func press(t *testing.T, b *browser, key string, shift bool) {
	t.Helper()
	var opts []chromedp.KeyOption
	if shift {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	b.do(t, chromedp.KeyEvent(key, opts...))
	painted(t, b)
}

// matches reports whether the focused element matches the CSS selector.
func matches(t *testing.T, b *browser, selector string) bool {
	t.Helper()
	js, _ := json.Marshal(selector)
	return get(t, b, chromedp.Evaluate[bool](`!!document.activeElement && document.activeElement !== document.body && document.activeElement.matches(`+string(js)+`)`))
}

// tabTo presses Tab (Shift+Tab with back) until the focused element
// matches selector, at most max times, and checks on the way that every
// element focused is visible with a focus indicator.
func tabTo(t *testing.T, b *browser, selector string, back bool, max int) {
	t.Helper()
	for range max {
		press(t, b, kb.Tab, back)
		f := focusedNow(t, b)
		checkRing(t, f)
		if matches(t, b, selector) {
			return
		}
	}
	t.Fatalf("%d presses of Tab never reached %s (focus is on %s)", max, selector, focusedNow(t, b).Desc)
}

func checkRing(t *testing.T, f focused) {
	t.Helper()
	if f.Body || f.IsMain {
		return
	}
	if !f.Visible {
		t.Errorf("keyboard focus is on %s, which is not visible on the screen", f.Desc)
	} else if !f.Ring {
		t.Errorf("keyboard focus is on %s, which shows no focus indicator (no outline, no box-shadow)", f.Desc)
	}
}

// isOpen reports whether the <details> matching selector is open.
func isOpen(t *testing.T, b *browser, selector string) bool {
	t.Helper()
	js, _ := json.Marshal(selector)
	return get(t, b, chromedp.Evaluate[bool](`!!document.querySelector(`+string(js)+`)?.open`))
}

// load opens path in the tab and waits for it, the keyboard's focus at
// the start of the document.
func load(t *testing.T, b *browser, url string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](markPage)); err != nil {
		t.Fatal(err)
	}
	b.do(t, chromedp.Navigate(url))
	settled(t, b)
}

// TestKeyboardOnly uses the site with the keys a keyboard user has —
// Tab, Shift+Tab, Enter, Space, Escape and typing: the skip link is the
// first thing focused and moves the focus to the main content; signing
// in; the account menu (1280 px) and the navigation drawer (360 px) open
// with Enter or Space, take the focus into their items and close with
// Escape, handing the focus back to their button; signing out from the
// menu. Every element the keyboard focuses on the way must be on the
// screen and show a focus indicator (an outline or a box-shadow).
func TestKeyboardOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start Chromium: not in -short")
	}
	b := newTimedBrowser(t, 4*time.Minute)
	base, a := site(t, nil)
	const pw = "correct horse battery staple"
	if _, err := a.Users.CreateConfirmed(context.Background(), "ada@example.com", pw, users.RoleDev); err != nil {
		t.Fatal(err)
	}
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	viewport(t, b, 1280)

	// skipLink: the first Tab lands on the skip link, Enter moves the
	// focus to <main> (or the next Tab into it).
	skipLink := func(t *testing.T, page string) {
		t.Helper()
		press(t, b, kb.Tab, false)
		f := focusedNow(t, b)
		if !matches(t, b, `a.skip-link[href="#main"]`) {
			t.Fatalf("%s: the first Tab focuses %s, not the skip link (a.skip-link href=#main)", page, f.Desc)
		}
		checkRing(t, f)
		press(t, b, kb.Enter, false)
		f = focusedNow(t, b)
		if !f.InMain {
			press(t, b, kb.Tab, false)
			if f2 := focusedNow(t, b); !f2.InMain {
				t.Errorf("%s: after Enter on the skip link the focus is on %s, and the next Tab on %s: not in <main id=main>", page, f.Desc, f2.Desc)
			}
		}
	}

	t.Run("skip link on the sign-in page", func(t *testing.T) {
		load(t, b, base+"/user/sign-in")
		skipLink(t, "sign-in")
	})

	t.Run("sign in", func(t *testing.T) {
		load(t, b, base+"/user/sign-in")
		tabTo(t, b, `input[name="email"]`, false, 30)
		b.do(t, chromedp.KeyEvent("ada@example.com"))
		tabTo(t, b, `input[name="password"]`, false, 5)
		b.do(t, chromedp.KeyEvent(pw))
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](markPage)); err != nil {
			t.Fatal(err)
		}
		press(t, b, kb.Enter, false)
		settled(t, b)
		if loc := get(t, b, chromedp.Location()); strings.Contains(loc, "/user/sign-in") {
			t.Fatalf("Enter in the password field did not sign in: still at %s", loc)
		}
	})

	t.Run("skip link when signed in", func(t *testing.T) {
		load(t, b, base+"/")
		skipLink(t, "home")
	})

	// menu opens the <details> whose summary matches summary with key,
	// tabs into its panel and closes it with Escape.
	menu := func(t *testing.T, details, key, panel string) {
		t.Helper()
		summary := details + " > summary"
		tabTo(t, b, summary, false, 40)
		press(t, b, key, false)
		if !isOpen(t, b, details) {
			t.Fatalf("%q on %s did not open it", key, summary)
		}
		press(t, b, kb.Tab, false)
		f := focusedNow(t, b)
		checkRing(t, f)
		if !matches(t, b, panel+" *") {
			t.Errorf("Tab from the open %s focuses %s, not an item of %s", summary, f.Desc, panel)
		}
		press(t, b, kb.Escape, false)
		if isOpen(t, b, details) {
			t.Fatalf("Escape did not close %s", details)
		}
		if !matches(t, b, summary) {
			t.Errorf("after Escape closed %s the focus is on %s, not its button", details, focusedNow(t, b).Desc)
		}
	}

	t.Run("account menu at 1280 px", func(t *testing.T) {
		viewport(t, b, 1280)
		for _, key := range []string{kb.Enter, " "} {
			load(t, b, base+"/")
			menu(t, "details.account-menu", key, ".menu-panel")
		}
	})

	t.Run("drawer at 360 px", func(t *testing.T) {
		viewport(t, b, 360)
		defer viewport(t, b, 1280)
		load(t, b, base+"/")
		menu(t, "details.drawer", kb.Enter, ".drawer-panel")
	})

	t.Run("every focusable element shows its focus", func(t *testing.T) {
		for _, page := range []string{"/", "/user/profile", "/user/apikeys"} {
			load(t, b, base+page)
			seen := map[string]bool{}
			for range 80 {
				press(t, b, kb.Tab, false)
				f := focusedNow(t, b)
				if f.Body || seen[f.Desc] {
					break // round the page and back
				}
				seen[f.Desc] = true
				checkRing(t, f)
			}
			t.Logf("%s: %d elements reached with Tab", page, len(seen))
		}
	})

	t.Run("sign out", func(t *testing.T) {
		viewport(t, b, 1280)
		load(t, b, base+"/")
		tabTo(t, b, "details.account-menu > summary", false, 40)
		press(t, b, kb.Enter, false)
		tabTo(t, b, `form[action="/user/sign-out"] button`, false, 10)
		if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](markPage)); err != nil {
			t.Fatal(err)
		}
		press(t, b, kb.Enter, false)
		settled(t, b)
		load(t, b, base+"/user/profile")
		if loc := get(t, b, chromedp.Location()); !strings.Contains(loc, "/user/sign-in") {
			t.Errorf("after signing out by keyboard /user/profile shows %s, not the sign-in page", loc)
		}
	})

	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}
