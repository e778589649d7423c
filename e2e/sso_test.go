package e2e_test

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// TestSSOSignInInTheBrowser: the provider's button on the sign-in page
// takes the browser to the test OpenID provider's login page; signing in
// there brings it back signed in, to an account made for it.
func TestSSOSignInInTheBrowser(t *testing.T) {
	b := newBrowser(t)
	op := testenv.StartOIDCProvider(t)
	op.AddUser(testenv.OIDCUser{Subject: "grace-1", Email: "grace@example.com", EmailVerified: true, Name: "Grace Hopper"})

	// The site's address must be known before it is built: it is in the
	// redirect URL the provider sends the browser back to.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	p := op.Config("acme")
	p.Label, p.AllowSignup = "Sign in with Acme ID", true
	providers, err := json.Marshal([]config.OIDCProvider{p})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := testenv.NewApp(t, map[string]string{"BASE_URL": base, "OIDC_PROVIDERS": string(providers)})
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	b.do(t,
		chromedp.Navigate(base+"/user/sign-in?next=/user/security"),
		chromedp.Click(chromedp.Search(`//button[contains(., "Sign in with Acme ID")]`)),
		// The provider's login page (its form, not the site's sign-in
		// form, which has an email field too and may still be showing).
		chromedp.WaitVisible(chromedp.CSS(`form[action="/authorize"] input[name=email]`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/authorize"] input[name=email]`), "grace@example.com"),
		chromedp.Submit(chromedp.CSS(`form[action="/authorize"] input[name=email]`)),
		chromedp.WaitVisible(chromedp.CSS(`#security-identities-title`)),
	)
	if loc := get(t, b, chromedp.Location()); loc != base+"/user/security" {
		t.Errorf("after signing in the browser is at %s, want the page it asked for", loc)
	}
	if got := get(t, b, chromedp.Text(chromedp.CSS(`.account-menu .menu-label`))); got != "grace@example.com" {
		t.Errorf("nav shows %q after the sign-in through the provider", got)
	}
	b.screenshot(t, "sso-sign-in")
	// (The test provider's login page has no favicon: its 404 is not the site's.)
	for _, p := range b.reported(op.URL + "/favicon.ico") {
		t.Errorf("the browser reported: %s", p)
	}
}
