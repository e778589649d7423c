package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/users"
)

// authenticatorCode is the code an authenticator app with key secret
// shows at t.
func authenticatorCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatalf("computing a code from the page's key: %v", err)
	}
	return code
}

// nextCode is the code of the time step after now's: the site takes a
// code one step either side of its own clock (an app's clock drifts), and
// each step's code only once, so the sign-in right after enrolment, within
// the same 30 seconds, needs the next step's code rather than a wait.
func nextCode(t *testing.T, secret string) string {
	t.Helper()
	return authenticatorCode(t, secret, time.Now().Add(30*time.Second))
}

// signOutInTheBrowser signs out through the account menu's form.
func signOutInTheBrowser(t *testing.T, b *browser) {
	t.Helper()
	clickJS(t, b, `form[action="/user/sign-out"] button`)
	waitFor(t, b, `!!document.querySelector('header a[href="/user/sign-in"]')`)
}

// openSetupPage opens /user/two-factor, where an authenticator app is set
// up.
func openSetupPage(t *testing.T, b *browser, base string) {
	t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(base+"/user/two-factor"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 {
		t.Fatalf("GET /user/two-factor answered %d", resp.Status)
	}
	b.do(t, chromedp.WaitVisible(chromedp.CSS("#two-factor-enable #code")))
}

// passwordStep sends the sign-in form and waits for the code page.
func passwordStep(t *testing.T, b *browser, base, email, password string) {
	t.Helper()
	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
	)
	waitFor(t, b, `location.pathname === "/user/sign-in/two-factor" && !!document.querySelector("#two-factor-form #code")`)
}

// sendCode types code into the form (#two-factor-form or
// #two-factor-enable) and sends it; it reports whether the page then
// satisfies done (else the form came back refusing the code).
func sendCode(t *testing.T, b *browser, form, code, done string) bool {
	t.Helper()
	// The field sent is marked: the form that comes back refusing the
	// code (a new page, or the form swapped in by htmx) is a new one.
	field := form + " #code"
	if !get(t, b, chromedp.Evaluate[bool](fmt.Sprintf(`(e => { if (!e) return false; e.value = ""; e.dataset.sent = "yes"; return true })(document.querySelector(%q))`, field))) {
		t.Fatalf("no %s at %s", field, get(t, b, chromedp.Location()))
	}
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(field), code),
		chromedp.Click(chromedp.CSS(form+" button:not([type=button])")),
	)
	refused := `!!document.querySelector("` + form + ` #code[aria-invalid=true]:not([data-sent])")`
	waitFor(t, b, "("+done+") || "+refused)
	return get(t, b, chromedp.Evaluate[bool](done))
}

// signedInAt is true once the browser shows the signed-in home page.
const signedInAt = `location.pathname === "/" && !!document.querySelector('form[action="/user/sign-out"]')`

// TestTwoStepSignInInTheBrowser: a user sets up an authenticator app on
// /user/two-factor (the key from the page, the code computed here as the
// app would), gets ten recovery codes, and from then on signs in with
// the password and then a code; a request for another page in between
// finds them signed out. A recovery code signs in once, not twice.
func TestTwoStepSignInInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	base, a := site(t, nil)
	ctx := context.Background()
	const email, pw = "ada@example.com", "correct horse battery staple"
	ada, err := a.Users.CreateConfirmed(ctx, email, pw)
	if err != nil {
		t.Fatal(err)
	}
	signIn(t, b, base, email, pw)

	// The setup page: the key as a QR code, as an otpauth:// URI and as
	// text, all three the same key.
	openSetupPage(t, b, base)
	secret := pageKey(t, b)
	// (The URI may sit in a closed <details>: its text content, not what
	// is on the screen.)
	uri := strings.TrimSpace(get(t, b, chromedp.Evaluate[string](`document.querySelector("#totp-uri").textContent`)))
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("#totp-uri %q is not an otpauth://totp/ URI: %v", uri, err)
	}
	if key.Secret() != secret || key.AccountName() != email {
		t.Errorf("#totp-uri %q does not carry the key %q shown as text for %s", uri, secret, email)
	}
	// The QR code is an image the page's Content-Security-Policy lets load.
	if !get(t, b, chromedp.Evaluate[bool](`(() => { const i = document.querySelector("img#totp-qr"); return !!i && i.complete && i.naturalWidth > 0 && i.alt !== "" })()`)) {
		t.Error("#totp-qr is not a loaded image with a text alternative")
	}
	b.screenshot(t, "two-factor-setup")

	// Turning it on with a code from the "app". The site takes the code
	// of the step before its own too, so one computed just before a step
	// ends still passes; a refused code is tried once more all the same,
	// freshly computed, so that a slow run is not a flaky one.
	enabled := `!!document.querySelector("#recovery-codes li")`
	if !sendFreshCode(t, b, "#two-factor-enable", func() string { return authenticatorCode(t, secret, time.Now()) }, enabled) {
		t.Fatal("the setup page refused two codes computed from its own key")
	}
	codes := get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#recovery-codes li")].map(li => li.textContent.trim())`))
	if len(codes) != users.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown (%q), want %d", len(codes), codes, users.RecoveryCodeCount)
	}
	b.screenshot(t, "two-factor-recovery-codes")
	signOutInTheBrowser(t, b)

	// The password alone leads to the code page, and nowhere else.
	passwordStep(t, b, base, email, pw)
	b.screenshot(t, "sign-in-two-factor")
	b.do(t, chromedp.Navigate(base+"/user/profile"))
	waitFor(t, b, `location.pathname === "/user/sign-in"`)
	b.do(t, chromedp.Navigate(base+"/user/sign-in/two-factor"))
	waitFor(t, b, `!!document.querySelector("#two-factor-form #code")`)
	if !sendFreshCode(t, b, "#two-factor-form", func() string { return nextCode(t, secret) }, signedInAt) {
		t.Fatal("the code page refused two codes from the authenticator key")
	}
	if got := get(t, b, chromedp.Text(chromedp.CSS(`.account-menu .menu-label`))); got != email {
		t.Errorf("nav shows %q after the second step", got)
	}
	signOutInTheBrowser(t, b)

	// A recovery code in place of the app's code: once.
	passwordStep(t, b, base, email, pw)
	if !sendCode(t, b, "#two-factor-form", codes[0], signedInAt) {
		t.Fatalf("the recovery code %q was refused", codes[0])
	}
	f, err := a.Users.SecondFactors(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.RecoveryCodesLeft != users.RecoveryCodeCount-1 {
		t.Errorf("%d recovery codes left after using one, want %d", f.RecoveryCodesLeft, users.RecoveryCodeCount-1)
	}
	signOutInTheBrowser(t, b)
	passwordStep(t, b, base, email, pw)
	if sendCode(t, b, "#two-factor-form", codes[0], signedInAt) {
		t.Errorf("the recovery code %q signed in a second time", codes[0])
	}
	b.screenshot(t, "sign-in-two-factor-refused")

	// A refused code is answered 422, which Chromium logs as a failed load.
	for _, p := range b.reported("status of 422") {
		t.Errorf("the browser reported: %s", p)
	}
}

// TestRequiredSecondFactorInTheBrowser: with MFA_REQUIRED_ROLES=admin,
// an admin without a second factor who signs in and asks for the admin
// panel is sent to the security page, which says why, until an
// authenticator app is set up; then the panel opens.
func TestRequiredSecondFactorInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	base, a := site(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	const email, pw = "root@example.com", "root keeps the keys 1969"
	if _, err := a.Users.CreateConfirmed(context.Background(), email, pw, users.RoleAdmin); err != nil {
		t.Fatal(err)
	}

	b.do(t,
		chromedp.Navigate(base+"/user/sign-in?next=%2Fadmin%2Fusers"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("main button[type=submit]")),
	)
	waitFor(t, b, `location.pathname === "/user/security" && !!document.querySelector("main [role=alert]")`)
	b.screenshot(t, "security-second-factor-required")
	b.do(t, chromedp.Navigate(base+"/admin/users"))
	waitFor(t, b, `location.pathname === "/user/security"`)

	openSetupPage(t, b, base)
	secret := pageKey(t, b)
	enabled := `!!document.querySelector("#recovery-codes li")`
	if !sendFreshCode(t, b, "#two-factor-enable", func() string { return authenticatorCode(t, secret, time.Now()) }, enabled) {
		t.Fatal("the setup page refused two codes computed from its own key")
	}
	b.do(t, chromedp.Navigate(base+"/admin/users"))
	waitFor(t, b, `location.pathname === "/admin/users" && !!document.querySelector("main h1")`)
	for _, p := range b.reported("") {
		t.Errorf("the browser reported: %s", p)
	}
}

// sendFreshCode sends a code made by code into form, and once more,
// freshly made, if the page refused it (a time step may have ended in
// between): whether done came true.
func sendFreshCode(t *testing.T, b *browser, form string, code func() string, done string) bool {
	t.Helper()
	for range 2 {
		if sendCode(t, b, form, code(), done) {
			return true
		}
	}
	return false
}
