package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/app"
)

// javaScript turns the page's scripts on or off (DevTools' own calls
// still run, so a test can read the page).
func javaScript(on bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	})
}

// htmxSite is a site with an admin (root), a user (ada) and 60 members,
// enough for two pages of the users list.
func htmxSite(t *testing.T) string {
	t.Helper()
	base, a := site(t, nil)
	ctx := context.Background()
	create := func(a *app.App, email, password string, roles ...string) {
		if _, err := a.Users.Create(ctx, email, password, roles...); err != nil {
			t.Fatal(err)
		}
	}
	create(a, "root@example.com", "root keeps the keys 1969", "admin")
	create(a, "ada@example.com", "ada's long password")
	for i := range 60 {
		create(a, fmt.Sprintf("member%02d@example.com", i), "a member's password")
	}
	return base
}

// refusedForm is how Chromium logs a refused form's 422 answer, the
// status it is meant to have (SPEC.md): not a problem.
const refusedForm = "the server responded with a status of 422"

// mark leaves a value in the page's window: it survives a swap by htmx
// and is gone after a page load.
var mark = chromedp.Evaluate[bool]("window.notReloaded = true")

// markAround marks the element around the form with id: it stays when
// only the form is swapped.
func markAround(t *testing.T, b *browser, id string) {
	t.Helper()
	get(t, b, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q).parentElement.dataset.kept = 'yes', true", id)))
}

// keptAround reports whether the element around form id is the marked one.
func keptAround(t *testing.T, b *browser, id string) bool {
	t.Helper()
	return get(t, b, chromedp.Evaluate[bool](fmt.Sprintf("document.getElementById(%q).parentElement.dataset.kept === 'yes'", id)))
}

// notReloaded reports whether the page is the one mark marked.
func notReloaded(t *testing.T, b *browser) bool {
	t.Helper()
	return get(t, b, chromedp.Evaluate[bool]("window.notReloaded === true"))
}

// waitFor waits until the JavaScript expression is true, through page
// loads (an evaluation cut short by one is tried again).
func waitFor(t *testing.T, b *browser, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			t.Fatalf("waiting for %s: %v (at %s)", expr, err, loc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// focusedID waits a moment for the focus to settle on want (htmx
// settles a swap 20 ms after it) and returns the focused element's id,
// or its tag name when it has none.
func focusedID(t *testing.T, b *browser, want string) string {
	t.Helper()
	const expr = "document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : ''"
	var got string
	for range 40 {
		got = get(t, b, chromedp.Evaluate[string](expr))
		if got == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return got
}

// clickJS clicks the element sel selects, visible or not (a menu item in
// a closed menu), as a click would: htmx sees the event, and without
// scripts the browser follows the link or sends the form.
func clickJS(t *testing.T, b *browser, sel string) {
	t.Helper()
	if !get(t, b, chromedp.Evaluate[bool](fmt.Sprintf("(function(e){ if (!e) return false; e.click(); return true })(document.querySelector(%q))", sel))) {
		t.Fatalf("nothing matches %s at %s", sel, get(t, b, chromedp.Location()))
	}
}

// signIn fills and sends the sign-in form (at base/user/sign-in now).
func signIn(t *testing.T, b *browser, base, email, password string) {
	t.Helper()
	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
	)
	waitFor(t, b, `location.pathname === "/" && !!document.querySelector('form[action="/user/sign-out"]')`)
}

// TestHtmxBoostsNavigationAndForms: with JavaScript, links and forms go
// by htmx (the page is never reloaded): a refused form swaps only itself
// and focuses its field; sign-in and sign-out follow their redirects;
// titles, addresses and Back work; the users list searches, sorts and
// pages in place; asynqmon loads as a page of its own. No console error,
// no CSP report.
func TestHtmxBoostsNavigationAndForms(t *testing.T) {
	b := newBrowser(t)
	base := htmxSite(t)

	// Register with a bad address: the form comes back with its error,
	// in place, its field focused and keeping the value.
	b.do(t, chromedp.Navigate(base+"/user/register"))
	waitFor(t, b, "typeof htmx === 'object' && htmx.version.startsWith('2.0.')")
	refusedInPlace(t, b, "register-form", [][2]string{
		{"email", "not-an-address"}, {"password", "correct horse battery"}, {"retype_password", "correct horse battery"},
	}, "email")
	if got := get(t, b, chromedp.Value(chromedp.CSS("#email"))); got != "not-an-address" {
		t.Errorf("the email field holds %q", got)
	}
	if got := get(t, b, chromedp.Evaluate[int]("document.querySelectorAll('#register-form').length")); got != 1 {
		t.Errorf("%d register forms on the page", got)
	}
	if loc := get(t, b, chromedp.Location()); loc != base+"/user/register" {
		t.Errorf("after the error the address is %s", loc)
	}

	// A boosted link: new content, title and address, focus on main, and
	// <body>'s class (the layout) is the new page's.
	get(t, b, chromedp.Evaluate[bool]("document.body.className = 'stale-layout', true"))
	b.do(t, chromedp.Click(chromedp.CSS(`main a[href="/user/sign-in"]`)))
	waitFor(t, b, `location.pathname === "/user/sign-in" && !!document.querySelector("#email") && !document.querySelector("#retype_password")`)
	if !notReloaded(t, b) {
		t.Error("following a link reloaded the page")
	}
	if get(t, b, chromedp.Evaluate[bool]("document.body.classList.contains('stale-layout')")) {
		t.Error("after a boosted link <body> keeps the old page's class")
	}
	if title := get(t, b, chromedp.Title()); !strings.HasPrefix(title, "Sign in") {
		t.Errorf("title after the link: %q", title)
	}
	if got := focusedID(t, b, "main"); got != "main" && got != "MAIN" {
		t.Errorf("after a boosted link the focus is on %s, want main", got)
	}

	// A boosted sign-in: the POST's 303 is followed; signed in, at /.
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "ada's long password"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
	)
	waitFor(t, b, `location.pathname === "/" && !!document.querySelector('form[action="/user/sign-out"]')`)
	if !notReloaded(t, b) {
		t.Error("signing in reloaded the page")
	}

	// Change the password with a mismatched retype: only the form swaps.
	b.do(t, chromedp.Navigate(base+"/user/change-password"))
	waitFor(t, b, "typeof htmx === 'object'")
	refusedInPlace(t, b, "change-password-form", [][2]string{
		{"old_password", "ada's long password"}, {"password", "a brand new password"}, {"retype_password", "another new password"},
	}, "retype_password")

	// Profile, then Back: the address and the page are the form's again.
	clickJS(t, b, `a[href="/user/profile"]`) // in the account menu, maybe closed
	waitFor(t, b, `location.pathname === "/user/profile" && !!document.querySelector("input#name")`)
	get(t, b, chromedp.Evaluate[bool]("history.back(), true"))
	waitFor(t, b, `location.pathname === "/user/change-password" && !!document.querySelector("#change-password-form") && !document.querySelector("input#name")`)

	// Sign out (a boosted POST and its redirect).
	get(t, b, mark)
	clickJS(t, b, `form[action="/user/sign-out"] button`)
	waitFor(t, b, `location.pathname === "/" && !document.querySelector('form[action="/user/sign-out"]')`)
	if !notReloaded(t, b) {
		t.Error("signing out reloaded the page")
	}

	// The admin's users list: sort, page and search in place.
	signIn(t, b, base, "root@example.com", "root keeps the keys 1969")
	b.do(t, chromedp.Navigate(base+"/admin/users"))
	waitFor(t, b, "typeof htmx === 'object' && !!document.querySelector('#users-results')")
	get(t, b, mark)
	b.do(t, chromedp.Click(chromedp.CSS(`#users-results thead a[href="/admin/users?sort=email"]`)))
	waitFor(t, b, `location.search === "?sort=email" && !!document.querySelector('th[aria-sort="ascending"] a[href="/admin/users?sort=-email"]')`)
	if got := get(t, b, chromedp.Value(chromedp.CSS(`#users-sort input[name=sort]`))); got != "email" {
		t.Errorf("the search form's sort is %q after sorting by email", got)
	}
	b.do(t, chromedp.Click(chromedp.CSS(`#users-results a[rel=next]`)))
	waitFor(t, b, `location.search === "?page=2&sort=email" && document.querySelector(".pagination-status").textContent.trim() === "Page 2 of 2"`)
	b.do(t, chromedp.SendKeys(chromedp.CSS("#user-search"), "member05"))
	waitFor(t, b, `location.search === "?q=member05&sort=email" && document.querySelectorAll("#users-results tbody tr").length === 1`)
	waitFor(t, b, `document.querySelectorAll("#users-count").length === 1 && document.querySelector("#users-count").textContent === "1 accounts match “member05”"`)
	if !notReloaded(t, b) {
		t.Error("sorting, paging or searching the users reloaded the page")
	}
	if got := get(t, b, chromedp.Evaluate[string]("document.activeElement.id")); got != "user-search" {
		t.Errorf("while searching the focus moved to %q", got)
	}
	if got := get(t, b, chromedp.Evaluate[int]("document.querySelectorAll('#users-results').length")); got != 1 {
		t.Errorf("%d #users-results on the page", got)
	}
	get(t, b, chromedp.Evaluate[bool]("history.back(), true"))
	waitFor(t, b, `location.search === "?page=2&sort=email" && document.querySelector(".pagination-status").textContent.trim() === "Page 2 of 2"`)

	// An answer that is not HTML (here /healthz's text) is loaded by the
	// browser, not swapped into the page.
	get(t, b, chromedp.Evaluate[bool](`(function () {
		var a = document.createElement("a");
		a.href = "/healthz"; a.id = "plain-text"; a.textContent = "probe";
		document.querySelector("main").append(a);
		htmx.process(a);
		a.click();
		return true;
	})()`))
	waitFor(t, b, `location.pathname === "/healthz" && document.body.textContent.trim() === "ok" && typeof htmx === "undefined"`)

	// asynqmon is loaded as its own page, not swapped into this one.
	b.do(t, chromedp.Navigate(base+"/admin"))
	waitFor(t, b, "typeof htmx === 'object'")
	b.do(t,
		chromedp.Click(chromedp.CSS(`main a[href="/admin/jobs"]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "Queue Size")]`)),
	)
	for _, p := range b.reported(refusedForm) {
		// asynqmon asks Google for fonts (refused: no CDN) and ships a
		// manifest Chromium cannot parse; on /healthz's text Chromium
		// looks for /favicon.ico; anything else counts.
		if !strings.Contains(p, "fonts.googleapis.com") && !strings.Contains(p, "manifest.json") && !strings.Contains(p, "/favicon.ico") {
			t.Errorf("the browser reported: %s", p)
		}
	}
}

// TestHtmxSameFlowsWithJavaScriptOff: with scripts off every flow above
// still works, by whole page loads.
func TestHtmxSameFlowsWithJavaScriptOff(t *testing.T) {
	b := newBrowser(t)
	base := htmxSite(t)
	b.do(t, javaScript(false))
	reloaded := func(what string) {
		t.Helper()
		if notReloaded(t, b) {
			t.Errorf("%s did not load a page", what)
		}
		if get(t, b, chromedp.Evaluate[bool]("typeof htmx !== 'undefined'")) {
			t.Errorf("after %s htmx ran with scripts off", what)
		}
	}

	b.do(t, chromedp.Navigate(base+"/user/register"))
	get(t, b, mark)
	submitRefused(t, b, "register-form", [][2]string{
		{"email", "not-an-address"}, {"password", "correct horse battery"}, {"retype_password", "correct horse battery"},
	})
	reloaded("a refused registration")
	if got := get(t, b, chromedp.Value(chromedp.CSS("#email"))); got != "not-an-address" {
		t.Errorf("the email field holds %q", got)
	}

	get(t, b, mark)
	b.do(t, chromedp.Click(chromedp.CSS(`main a[href="/user/sign-in"]`)))
	waitFor(t, b, `location.pathname === "/user/sign-in" && !!document.querySelector("#email")`)
	reloaded("a link")

	get(t, b, mark)
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#email"), "root@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "root keeps the keys 1969"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
	)
	waitFor(t, b, `location.pathname === "/" && !!document.querySelector('form[action="/user/sign-out"]')`)
	reloaded("signing in")

	b.do(t, chromedp.Navigate(base+"/user/change-password"))
	submitRefused(t, b, "change-password-form", [][2]string{
		{"old_password", "root keeps the keys 1969"}, {"password", "a brand new password"}, {"retype_password", "another new password"},
	})

	// The users list: the search form and the links are plain GETs.
	b.do(t, chromedp.Navigate(base+"/admin/users"))
	get(t, b, mark)
	b.do(t, chromedp.Click(chromedp.CSS(`#users-results thead a[href="/admin/users?sort=email"]`)))
	waitFor(t, b, `location.search === "?sort=email" && !!document.querySelector('th[aria-sort="ascending"]')`)
	reloaded("a sort link")
	b.do(t, chromedp.Click(chromedp.CSS(`#users-results a[rel=next]`)))
	waitFor(t, b, `location.search === "?page=2&sort=email" && document.querySelector(".pagination-status").textContent.trim() === "Page 2 of 2"`)
	get(t, b, mark)
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#user-search"), "member05"),
		chromedp.Click(chromedp.CSS(`#user-search-form button[type=submit]`)),
	)
	waitFor(t, b, `location.search === "?q=member05&sort=email" && document.querySelectorAll("#users-results tbody tr").length === 1`)
	reloaded("the search form")
	get(t, b, chromedp.Evaluate[bool]("history.back(), true"))
	waitFor(t, b, `location.search === "?page=2&sort=email" && !!document.querySelector(".pagination-status")`)

	get(t, b, mark)
	clickJS(t, b, `form[action="/user/sign-out"] button`)
	waitFor(t, b, `location.pathname === "/" && !document.querySelector('form[action="/user/sign-out"]')`)
	reloaded("signing out")

	for _, p := range b.reported(refusedForm) {
		t.Errorf("the browser reported: %s", p)
	}
}

// refusedInPlace types fields (id, text) into the form id, submits it, and
// checks that its refusal came back in place: the page not reloaded,
// nothing around the form swapped, the focus on the field focus.
func refusedInPlace(t *testing.T, b *browser, form string, fields [][2]string, focus string) {
	t.Helper()
	get(t, b, mark)
	markAround(t, b, form)
	submitRefused(t, b, form, fields)
	if !notReloaded(t, b) {
		t.Errorf("the refused %s reloaded the page", form)
	}
	if !keptAround(t, b, form) {
		t.Errorf("the refused %s swapped more than its form", form)
	}
	if got := focusedID(t, b, focus); got != focus {
		t.Errorf("after the %s's error the focus is on %q, want %s", form, got, focus)
	}
}

// submitRefused types fields (id, text) into the form id, submits it with
// its button, and waits for the form's error to show.
func submitRefused(t *testing.T, b *browser, form string, fields [][2]string) {
	t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS("#"+f[0]), f[1]))
	}
	b.do(t, append(steps, chromedp.Click(chromedp.CSS("#"+form+" button[type=submit]")))...)
	waitFor(t, b, `!!document.querySelector("#`+form+` .field-error")`)
}
