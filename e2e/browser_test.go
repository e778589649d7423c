// Package e2e drives the site in a real headless Chromium (Debian's
// chromium package, via chromedp): pages render with their stylesheet, the
// content security policy holds, and the browser reports no errors. It
// skips, saying so, where no Chromium is installed; .ci/run installs it.
//
//	make e2e      (screenshots land in e2e/screenshots/ when E2E_SCREENSHOTS=1)
package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// chromium finds the browser: CHROME_PATH, else the usual names on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests start Chromium: not in -short")
	}
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found: skipping browser tests (apt-get install chromium, or set CHROME_PATH)")
	return ""
}

// browser is a headless Chromium tab that records every problem the page
// reports: console errors and warnings, uncaught exceptions, and browser
// log entries such as CSP violations and failed loads.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	return startBrowser(t, 90*time.Second, chromedp.WindowSize(1280, 900))
}

// startBrowser starts Chromium with the options every test shares and
// extra, one tab with a deadline of d, recording what the page reports.
func startBrowser(t *testing.T, d time.Duration, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })

	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // subscribes now, before any page loads
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s %s: %s (%s)", m.Type, m.Source, m.Text, m.URL))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func get[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// reported returns the problems seen so far, except those matching skip.
func (b *browser) reported(skip string) []string {
	// Messages travel on their own queue: a round trip to the page first
	// lets those sent before it arrive.
	_, _ = chromedp.Run(b.ctx, chromedp.Evaluate[int]("0"))
	time.Sleep(100 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, p := range b.problems {
		if skip == "" || !strings.Contains(p, skip) {
			out = append(out, p)
		}
	}
	return out
}

// screenshot takes a full-page PNG and, when E2E_SCREENSHOTS=1, saves it
// under e2e/screenshots for a person to look at.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := get(t, b, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if len(png) == 0 {
		t.Fatal("empty screenshot")
	}
	if os.Getenv("E2E_SCREENSHOTS") == "1" {
		if err := os.MkdirAll("screenshots", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("screenshots", name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// site serves the app built from env on a local port and returns its
// base URL and the app, for a test to set up data directly.
func site(t *testing.T, env map[string]string) (string, *app.App) {
	t.Helper()
	a, _ := testenv.NewApp(t, env)
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, a
}

func TestHomePageRendersStyledWithoutBrowserErrors(t *testing.T) {
	b := newBrowser(t)
	base, _ := site(t, map[string]string{"APP_NAME": "Acme Widgets"})

	b.do(t, chromedp.Navigate(base+"/"))
	title := get(t, b, chromedp.Title())
	heading := get(t, b, chromedp.Text(chromedp.CSS("h1")))
	// app.css sets the system font stack and lays the body out as a
	// column (header, content, footer): both show the stylesheet loaded
	// under the content security policy.
	font := get(t, b, chromedp.Evaluate[string](`getComputedStyle(document.body).fontFamily`))
	display := get(t, b, chromedp.Evaluate[string](`getComputedStyle(document.body).display`))
	if title != "Acme Widgets" || heading != "Acme Widgets" {
		t.Errorf("title %q, h1 %q; want the APP_NAME", title, heading)
	}
	if !strings.HasPrefix(font, "system-ui") {
		t.Errorf("body font-family = %q: app.css did not apply", font)
	}
	if display != "flex" {
		t.Errorf("body display = %q: the layout stylesheet did not apply", display)
	}
	b.screenshot(t, "home")
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}

func TestNotFoundPageIsInTheLayout(t *testing.T) {
	b := newBrowser(t)
	base, _ := site(t, nil)

	b.do(t, chromedp.Navigate(base+"/no-such-page"))
	code := get(t, b, chromedp.Text(chromedp.CSS(".error-code")))
	heading := get(t, b, chromedp.Text(chromedp.CSS("h1")))
	nav := get(t, b, chromedp.Text(chromedp.CSS("header .brand-name")))
	if code != "404" || heading != "Not Found" || nav != "Launchkit" {
		t.Errorf("404 page: code %q, h1 %q, nav %q", code, heading, nav)
	}
	b.screenshot(t, "not-found")
	// Chromium logs the 404 response itself; anything else is a problem.
	for _, p := range b.reported("404") {
		t.Errorf("the browser reported: %s", p)
	}
}

func TestRegisterSignOutSignInInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	base, _ := site(t, nil)

	b.do(t,
		chromedp.Navigate(base+"/user/register"),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS("#retype_password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.account-menu .menu-label`)),
	)
	if got := get(t, b, chromedp.Text(chromedp.CSS(`.account-menu .menu-label`))); got != "ada@example.com" {
		t.Errorf("nav shows %q after registering", got)
	}
	b.screenshot(t, "signed-in")

	b.do(t,
		chromedp.Click(chromedp.CSS(".account-menu summary")),
		chromedp.Click(chromedp.CSS(`.account-menu form[action="/user/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`header a[href="/user/sign-in"]`)),
		chromedp.Navigate(base+"/user/profile"), // signed out: sent to sign in, then back
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`input#name`)),
	)
	if loc := get(t, b, chromedp.Location()); loc != base+"/user/profile" {
		t.Errorf("after signing in the browser is at %s, want the profile it asked for", loc)
	}
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}

func TestAdminSeesTheJobsDashboard(t *testing.T) {
	b := newBrowser(t)
	base, a := site(t, nil)
	if _, err := a.Users.Create(context.Background(), "root@example.com", "root keeps the keys 1969", "admin"); err != nil {
		t.Fatal(err)
	}

	b.do(t,
		chromedp.Navigate(base+"/user/sign-in?next=%2Fadmin%2Fjobs"),
		chromedp.SendKeys(chromedp.CSS("#email"), "root@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "root keeps the keys 1969"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		// asynqmon's React app renders its queue table from its JSON API.
		chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "Queue Size")]`)),
	)
	b.screenshot(t, "jobs-dashboard")
	// asynqmon asks Google for fonts (refused: no CDN) and ships a manifest
	// Chromium cannot parse; anything else, and any script error, counts.
	for _, p := range b.reported("") {
		if !strings.Contains(p, "fonts.googleapis.com") && !strings.Contains(p, "manifest.json") {
			t.Errorf("the browser reported: %s", p)
		}
	}
}

// TestDirectorySignInInTheBrowser: a directory user (alice, in the admins
// group of the bundled slapd) signs in with her directory username and
// lands in the admin panel she asked for.
func TestDirectorySignInInTheBrowser(t *testing.T) {
	dir := testenv.Slapd(t)
	b := newBrowser(t)
	base, _ := site(t, map[string]string{
		"APPLICATION_SETTINGS": "../tools/devldap/launchkit.yaml",
		"LDAP_HOST":            dir.URL,
	})

	b.do(t,
		chromedp.Navigate(base+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), testenv.DirectoryUsers["alice"]),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(text(), "directory: alice")]`)),
	)
	if loc := get(t, b, chromedp.Location()); loc != base+"/admin/users" {
		t.Errorf("after signing in the browser is at %s, want the admin page it asked for", loc)
	}
	if got := get(t, b, chromedp.Text(chromedp.CSS(`.account-menu .menu-label`))); got != "alice@example.org" {
		t.Errorf("nav shows %q after the directory sign-in", got)
	}
	b.screenshot(t, "directory-sign-in")
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}

// TestDevMailViewerInTheBrowser: the development mail viewer shows a
// mail's HTML in a frame where scripting is off — the mail's <noscript>
// image is what loads, there and when its address is opened on its own —
// and its text with the link whole and working.
func TestDevMailViewerInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	a, _ := testenv.NewApp(t, map[string]string{"ENV": "development"})
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	// /probe/… records what the mail's page asked for.
	var mu sync.Mutex
	probes := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/probe/"); ok {
			mu.Lock()
			probes[name]++
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	probed := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return probes[name]
	}
	base := srv.URL
	err = a.Mailer.Send(context.Background(), mail.Message{
		To: []string{"ada@example.com"}, Subject: "A mail with a script",
		Text: "Home: " + base + "/?from=mail\n",
		HTML: `<!doctype html><h1 style="color: rgb(200, 0, 0)">Hello from the mail</h1>` +
			`<script>new Image().src = "` + base + `/probe/script"; parent.document.title = "owned"</script>` +
			`<noscript><img src="` + base + `/probe/noscript" alt=""></noscript>`,
	})
	if err != nil {
		t.Fatal(err)
	}

	b.do(t,
		chromedp.Navigate(base+"/dev/mail"),
		chromedp.Click(chromedp.Search(`//a[text()="A mail with a script"]`)),
		chromedp.WaitVisible(chromedp.CSS("iframe.mail-html")),
		chromedp.ScrollIntoView(chromedp.CSS("iframe.mail-html")), // a frame out of view is not painted
	)
	testenv.WaitUntil(t, "the framed mail to load its <noscript> image", 20*time.Second, 50*time.Millisecond, func() bool { return probed("noscript") == 1 })
	if title := get(t, b, chromedp.Title()); title != "A mail with a script · Mail · Development · Launchkit" {
		t.Errorf("page title %q: the mail's script reached the page", title)
	}
	b.screenshot(t, "dev-mail")
	frame := get(t, b, chromedp.AttributeValue(chromedp.CSS("iframe.mail-html"), "src"))
	b.do(t, chromedp.Navigate(base+frame.Value))
	testenv.WaitUntil(t, "the mail's HTML opened on its own to load its <noscript> image", 20*time.Second, 50*time.Millisecond, func() bool { return probed("noscript") == 2 })
	if n := probed("script"); n != 0 {
		t.Errorf("the mail's script ran %d times", n)
	}
	// Opened on its own, the page says it refused the mail's script.
	for _, p := range b.reported("Blocked script execution") {
		t.Errorf("the browser reported: %s", p)
	}

	b.do(t,
		chromedp.Navigate(base+"/dev/mail"),
		chromedp.Click(chromedp.Search(`//a[text()="A mail with a script"]`)),
		chromedp.Click(chromedp.CSS(`pre.mail-text a`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Launchkit"]`)), // the home page
	)
	if loc := get(t, b, chromedp.Location()); loc != base+"/?from=mail" {
		t.Errorf("the mail's link led to %s", loc)
	}
}
