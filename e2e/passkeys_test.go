package e2e_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// passkeySite serves the app on a local port with BASE_URL
// http://localhost:PORT (the relying party is "localhost"), and returns
// that URL, the same site by its address (http://127.0.0.1:PORT, another
// origin) and the app.
func passkeySite(t *testing.T) (base, byAddress string, a *app.App) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	base = "http://localhost:" + strconv.Itoa(port)
	a, _ = testenv.NewApp(t, map[string]string{"BASE_URL": base})
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return base, "http://127.0.0.1:" + strconv.Itoa(port), a
}

// virtualAuthenticator gives the tab Chrome's virtual authenticator: a
// platform authenticator (CTAP2, internal transport) that holds
// discoverable credentials and verifies its user.
func virtualAuthenticator(t *testing.T, b *browser) {
	t.Helper()
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true,
			},
		})
		return err
	}))
}

// click clicks the element selector finds, by script.
func click(t *testing.T, b *browser, selector string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(document.querySelector(`+strconv.Quote(selector)+`).click(), true)`)); err != nil {
		t.Fatal(err)
	}
}

// TestPasskeysInTheBrowser: with Chrome's virtual authenticator, a
// passkey is added on the security page, signs in with no password after
// a sign-out, serves as the second step after the password, and is
// removed (with the password).
func TestPasskeysInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	base, _, a := passkeySite(t)
	if _, err := a.Users.CreateConfirmed(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	virtualAuthenticator(t, b)
	// Chrome's virtual authenticator answers the autofill's request at
	// once, which would sign in before the button is pressed: this
	// browser offers no autofill, so the button is what signs in.
	b.do(t, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = function () { return Promise.resolve(false); };`,
		})
		return err
	}))

	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.account-menu .menu-label`)),
	)
	b.do(t,
		chromedp.Navigate(base+"/user/security"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-add")),
	)
	b.do(t,
		chromedp.SendKeys(chromedp.CSS("#passkey-name"), "Virtual key"),
	)
	// Clicked by script: the ceremony may end in a page load before a
	// synthetic mouse click has finished with its node.
	click(t, b, "#passkey-add")
	waitFor(t, b, `!!document.querySelector('#passkeys-table, #passkey-add-error:not([hidden])')`)
	if msg := get(t, b, chromedp.Evaluate[string](`(document.getElementById('passkey-add-error')||{}).textContent || ''`)); msg != "" {
		t.Fatalf("adding the passkey failed: %s (%v)", msg, b.reported(""))
	}
	if got := get(t, b, chromedp.Text(chromedp.CSS("#passkeys-table tbody"))); !strings.Contains(got, "Virtual key") || !strings.Contains(got, "never") {
		t.Errorf("passkeys listed: %q", got)
	}
	b.screenshot(t, "passkey-added")

	// Sign out, then in with the passkey alone.
	b.do(t,
		chromedp.Click(chromedp.CSS(".account-menu summary")),
		chromedp.Click(chromedp.CSS(`.account-menu form[action="/user/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`header a[href="/user/sign-in"]`)),
		chromedp.Navigate(base+"/user/sign-in?next=/user/security"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-sign-in")),
	)
	click(t, b, "#passkey-sign-in")
	waitFor(t, b, `!!document.querySelector('#passkeys-table')`)
	if got := get(t, b, chromedp.Text(chromedp.CSS(`.account-menu .menu-label`))); got != "ada@example.com" {
		t.Errorf("nav shows %q after signing in with the passkey", got)
	}
	if got := get(t, b, chromedp.Text(chromedp.CSS("#passkeys-table tbody"))); strings.Contains(got, "never") {
		t.Errorf("the passkey's last use is not shown: %q", got)
	}

	accessible(t, b, "security page with a passkey")

	// The password now asks for a second step, which the passkey gives.
	b.do(t,
		chromedp.Click(chromedp.CSS(".account-menu summary")),
		chromedp.Click(chromedp.CSS(`.account-menu form[action="/user/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`header a[href="/user/sign-in"]`)),
		chromedp.Navigate(base+"/user/sign-in?next=/user/security"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#passkey-second-step")),
	)
	accessible(t, b, "second step with a passkey")
	click(t, b, "#passkey-second-step")
	waitFor(t, b, `!!document.querySelector('#passkeys-table')`)

	// Remove it: a wrong password is refused beside its field, the
	// password removes it.
	b.do(t,
		chromedp.Click(chromedp.CSS("#passkeys-table details.confirm summary")),
		chromedp.WaitVisible(chromedp.CSS(`#passkeys-table input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`#passkeys-table input[name=password]`), "not my password"),
		chromedp.Click(chromedp.CSS(`#passkeys-table form button[type=submit]`)),
	)
	waitFor(t, b, `!!document.querySelector('#passkeys-table .field-error')`)
	if got := get(t, b, chromedp.Text(chromedp.CSS("#passkeys-table .field-error"))); !strings.Contains(got, "This is not your password.") {
		t.Errorf("the refused removal says %q", got)
	}
	accessible(t, b, "security page, a passkey's removal refused")
	b.do(t,
		chromedp.SendKeys(chromedp.CSS(`#passkeys-table input[name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#passkeys-table form button[type=submit]`)),
	)
	waitFor(t, b, `!!document.querySelector('#passkeys-none')`)
	// (The refused removal's 422 is the page's answer, not a problem.)
	for _, p := range b.reported("422") {
		t.Errorf("the browser reported: %s", p)
	}
}

// TestPasskeyFromAnotherOriginIsRefused: the site opened by its address
// (http://127.0.0.1:PORT) is not the relying party BASE_URL names
// (localhost): the browser refuses the ceremony, the page says so, and
// nobody is signed in.
func TestPasskeyFromAnotherOriginIsRefused(t *testing.T) {
	b := newBrowser(t)
	base, byAddress, a := passkeySite(t)
	if _, err := a.Users.CreateConfirmed(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	virtualAuthenticator(t, b)
	// A passkey for the right site first.
	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.account-menu .menu-label`)),
		chromedp.Navigate(base+"/user/security"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-add")),
	)
	// Clicked by script: the ceremony may end in a page load before a
	// synthetic mouse click has finished with its node.
	click(t, b, "#passkey-add")
	waitFor(t, b, `!!document.querySelector('#passkeys-table')`)

	b.do(t,
		chromedp.Navigate(byAddress+"/user/sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-sign-in")),
		chromedp.Click(chromedp.CSS("#passkey-sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#passkey-sign-in-error")),
	)
	if got := get(t, b, chromedp.Text(chromedp.CSS("#passkey-sign-in-error"))); !strings.Contains(got, "not the site") {
		t.Errorf("the page says %q", got)
	}
	if n := get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('.account-menu').length`)); n != 0 {
		t.Error("signed in from another origin")
	}
}

// TestPasskeyAutofillSignsIn: where the browser offers passkeys in the
// address field's autofill (conditional mediation), the sign-in page asks
// for one as it loads; Chrome's virtual authenticator answers at once, so
// the page signs in without a click.
func TestPasskeyAutofillSignsIn(t *testing.T) {
	b := newBrowser(t)
	base, _, a := passkeySite(t)
	if _, err := a.Users.CreateConfirmed(t.Context(), "ada@example.com", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	virtualAuthenticator(t, b)
	b.do(t,
		chromedp.Navigate(base+"/user/sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#sign-in-form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`.account-menu .menu-label`)),
		chromedp.Navigate(base+"/user/security"),
		chromedp.WaitVisible(chromedp.CSS("#passkey-add")),
	)
	click(t, b, "#passkey-add")
	waitFor(t, b, `!!document.querySelector('#passkeys-table')`)
	b.do(t, chromedp.Click(chromedp.CSS(".account-menu summary")),
		chromedp.Click(chromedp.CSS(`.account-menu form[action="/user/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`header a[href="/user/sign-in"]`)),
	)
	available := get(t, b, chromedp.Evaluate[bool](`new Promise(function (ok) { PublicKeyCredential.isConditionalMediationAvailable().then(ok, function () { ok(false); }); })`, chromedp.EvalAwaitPromise))
	if !available {
		t.Skip("this Chromium offers no passkey autofill")
	}
	b.do(t, chromedp.Navigate(base+"/user/sign-in?next=/user/security"))
	waitFor(t, b, `!!document.querySelector('#passkeys-table')`)
}
