package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
	"github.com/launchkit/launchkit/internal/web"
)

// ssoSite is the site on databaseURL with the test OpenID provider op
// configured as provider "acme" (allowed to create accounts), changed by
// each of change, and env on top.
func ssoSite(t *testing.T, databaseURL string, op *testenv.OIDCProvider, env map[string]string, change ...func(*config.OIDCProvider)) *site {
	t.Helper()
	p := op.Config("acme")
	p.Label = "Acme ID"
	p.AllowSignup = true
	for _, c := range change {
		c(&p)
	}
	list, err := json.Marshal([]config.OIDCProvider{p})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"OIDC_PROVIDERS": string(list)}
	if databaseURL != "" {
		vars["DATABASE_URL"] = databaseURL
	}
	for k, v := range env {
		vars[k] = v
	}
	return newSite(t, vars)
}

// throughProvider starts a sign-in through provider with the start
// form's fields, lets the test provider answer as it was told to
// (OIDCProvider.Next, Deny…), and follows its redirect back to the
// callback, whose response it returns.
func (v *visitor) throughProvider(provider string, fields ...string) *response {
	v.s.t.Helper()
	back := v.toProvider(provider, fields...)
	return v.get(back)
}

// toProvider starts a sign-in through provider and returns the path and
// query the provider sends the browser back to.
func (v *visitor) toProvider(provider string, fields ...string) string {
	v.s.t.Helper()
	start := v.post("/user/sso/"+provider+"/start", fields...)
	if start.rec.Code != http.StatusSeeOther {
		v.s.t.Fatalf("start: status %d, want 303; body:\n%s", start.rec.Code, start.body)
	}
	return providerAnswer(v.s.t, start.rec.Header().Get("Location"))
}

// providerAnswer asks the provider's authorization URL as a browser
// would, without its login page (OIDCProvider.Next queued the user), and
// returns the path and query of the site it sends the browser back to.
func providerAnswer(t *testing.T, authURL string) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode/100 != 3 || err != nil {
		t.Fatalf("the provider answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.RequestURI()
}

// signedInAs checks that v's session is the account of email.
func (v *visitor) signedInAs(email string) {
	v.s.t.Helper()
	v.get("/user/profile").status(200).contains(email)
}

// signedOut checks that v has no signed-in session.
func (v *visitor) signedOut() {
	v.s.t.Helper()
	v.get("/user/security").redirectsTo("/user/sign-in?next=%2Fuser%2Fsecurity")
}

func (s *site) identities(email string) []users.Identity {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	ids, err := s.app.Users.Identities(context.Background(), u.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return ids
}

func (s *site) eventsOf(kind seclog.Kind) []seclog.Event {
	s.t.Helper()
	var list []seclog.Event
	if err := s.app.DB.Gorm.Where("kind = ?", kind).Order("id").Find(&list).Error; err != nil {
		s.t.Fatal(err)
	}
	return list
}

// forEachDatabase runs test, in parallel, once for each of SQLite,
// PostgreSQL and MariaDB: databaseURL gives a fresh database of it.
func forEachDatabase(t *testing.T, test func(t *testing.T, databaseURL func(testing.TB) string)) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			test(t, dialect.URL)
		})
	}
}

var grace = testenv.OIDCUser{Subject: "grace-1", Email: "grace@example.com", EmailVerified: true, Name: "Grace Hopper"}

// TestSSOOnEveryDatabase runs the rules that touch the database on
// SQLite, PostgreSQL and MariaDB: a first sign-in makes an account, the
// next one finds it; an identity claiming the address of an existing
// account opens nothing; a trusted provider's verified address links.
func TestSSOOnEveryDatabase(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, dialect.URL(t), op, nil)

			// A first sign-in makes a confirmed account, signed in.
			v := s.visitor()
			v.get("/user/sign-in").status(200).contains(`action="/user/sso/acme/start"`, "Acme ID")
			op.Next(grace)
			v.throughProvider("acme", "next", "/user/security").redirectsTo("/user/security")
			v.signedInAs("grace@example.com")
			u, err := s.app.Users.ByEmail(context.Background(), "grace@example.com")
			if err != nil || u.EmailConfirmedAt == nil || u.HasPassword() || u.Name != "Grace Hopper" {
				t.Fatalf("account = %+v, %v", u, err)
			}
			if e := s.eventsOf(seclog.SignIn); len(e) != 1 || e[0].Method != "sso:acme" || *e[0].UserID != u.ID {
				t.Errorf("sign-in events = %+v", e)
			}
			if e := s.eventsOf(seclog.AccountCreated); len(e) != 1 || e[0].Method != "sso:acme" {
				t.Errorf("account events = %+v", e)
			}
			v.get("/user/security").status(200).contains("Sign-in providers", "Acme ID", "grace@example.com", "Unlink")

			// The next sign-in, from another browser, finds the account.
			other := s.visitor()
			op.Next(grace)
			other.throughProvider("acme").redirectsTo("/")
			other.signedInAs("grace@example.com")
			if ids := s.identities("grace@example.com"); len(ids) != 1 {
				t.Errorf("identities = %+v", ids)
			}

			// THE ATTACK: an account has a password; an identity at a
			// provider (an attacker's, who set the victim's address there,
			// verified or not) claims its address. Nothing opens.
			s.signedIn("ada@example.com")
			attacker := s.visitor()
			op.Next(testenv.OIDCUser{Subject: "mallory", Email: "ada@example.com", EmailVerified: true})
			attacker.throughProvider("acme").status(409).contains("Sign in with your password first, then link Acme ID from your Security page")
			attacker.signedOut()
			if len(attacker.cookies) != 0 { // no session, and the state cookie is gone
				t.Errorf("the refused visitor keeps cookies %v", attacker.cookies)
			}
			if ids := s.identities("ada@example.com"); len(ids) != 0 {
				t.Errorf("the attacker's identity was linked: %+v", ids)
			}
			adaAccount, _ := s.app.Users.ByEmail(context.Background(), "ada@example.com")
			if e := s.eventsOf(seclog.SignInFailed); len(e) != 1 || e[0].Detail != "link required" || e[0].UserID == nil || *e[0].UserID != adaAccount.ID {
				t.Errorf("failure events = %+v", e)
			}
		})
	}
}

func TestSSOTrustedEmailLinksOnlyVerifiedAddresses(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, databaseURL(t), op, nil, func(p *config.OIDCProvider) { p.TrustEmail = true })
		s.signedIn("ada@example.com")

		unverified := s.visitor()
		op.Next(testenv.OIDCUser{Subject: "ada-corp", Email: "ada@example.com", EmailVerified: false})
		unverified.throughProvider("acme").status(409).contains("Sign in with your password first")
		unverified.signedOut()
		if ids := s.identities("ada@example.com"); len(ids) != 0 {
			t.Fatalf("linked an unverified address: %+v", ids)
		}

		verified := s.visitor()
		op.Next(testenv.OIDCUser{Subject: "ada-corp", Email: "ada@example.com", EmailVerified: true})
		verified.throughProvider("acme").redirectsTo("/")
		verified.signedInAs("ada@example.com")
		if ids := s.identities("ada@example.com"); len(ids) != 1 || ids[0].Subject != "ada-corp" {
			t.Errorf("identities = %+v", ids)
		}
		if e := s.eventsOf(seclog.IdentityLinked); len(e) != 1 || e[0].Method != "sso:acme" {
			t.Errorf("link events = %+v", e)
		}
	})
}

func TestSSOLinkFromTheSecurityPageThenSignIn(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, databaseURL(t), op, nil)
		ada := s.signedIn("ada@example.com")
		ada.get("/user/security").status(200).contains("No sign-in provider is linked", `name="intent" value="link"`, "Link Acme ID")

		// The provider's address need not be the account's.
		op.Next(testenv.OIDCUser{Subject: "ada-at-acme", Email: "ada.lovelace@acme.test", EmailVerified: true})
		ada.throughProvider("acme", "intent", "link", "link_password", "password for ada@example.com").redirectsTo("/user/security")
		ada.get("/user/security").status(200).contains("Your Acme ID identity is linked", "ada.lovelace@acme.test")

		later := s.visitor()
		op.Next(testenv.OIDCUser{Subject: "ada-at-acme", Email: "ada.lovelace@acme.test", EmailVerified: true})
		later.throughProvider("acme").redirectsTo("/")
		later.signedInAs("ada@example.com")

		// The same identity cannot be linked to a second account.
		bob := s.signedIn("bob@example.com")
		op.Next(testenv.OIDCUser{Subject: "ada-at-acme", Email: "ada.lovelace@acme.test", EmailVerified: true})
		bob.throughProvider("acme", "intent", "link", "link_password", "password for bob@example.com").status(409).contains("linked to another account")

		// Linking needs a signed-in visitor.
		s.visitor().post("/user/sso/acme/start", "intent", "link").status(401)
	})
}

// A linked identity outlasts a password change, so a stolen session
// alone must not link its thief's: linking needs the password, or, for
// an account that has none, a sign-in in the last ten minutes.
func TestSSOLinkNeedsMoreThanASession(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	now := time.Now()
	clock := func() time.Time { return now }
	p := op.Config("acme")
	p.Label, p.AllowSignup = "Acme ID", true
	list, err := json.Marshal([]config.OIDCProvider{p})
	if err != nil {
		t.Fatal(err)
	}
	s := newSite(t, map[string]string{"OIDC_PROVIDERS": string(list)}, web.WithClock(func() time.Time { return clock() }))
	thief := s.signedIn("ada@example.com")
	for _, password := range []string{"", "a wrong guess"} {
		thief.post("/user/sso/acme/start", "intent", "link", "link_password", password).
			status(422).contains("This is not your password.", `id="link-password-acme"`, `aria-invalid="true"`)
	}
	if n := len(s.identities("ada@example.com")); n != 0 {
		t.Fatalf("%d identities linked without the password", n)
	}
	if op.Hits("/authorize") != 0 {
		t.Error("the browser was sent to the provider without the password")
	}

	// An account made by a provider has no password: a fresh sign-in
	// links, an old one does not.
	g := s.visitor()
	op.Next(grace)
	g.throughProvider("acme").redirectsTo("/")
	op.Next(testenv.OIDCUser{Subject: "grace-two", Email: "grace@acme.test", EmailVerified: true})
	g.throughProvider("acme", "intent", "link").redirectsTo("/user/security")
	now = now.Add(11 * time.Minute)
	g.post("/user/sso/acme/start", "intent", "link").status(422).contains("linking needs a recent sign-in")
	if n := len(s.identities("grace@example.com")); n != 2 {
		t.Fatalf("grace has %d identities, want 2", n)
	}
}

func TestSSOUnlink(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, databaseURL(t), op, nil)

		// An account made by a provider has no password: its only identity
		// stays.
		g := s.visitor()
		op.Next(grace)
		g.throughProvider("acme").redirectsTo("/")
		id := s.identities("grace@example.com")[0].ID
		g.get("/user/security").status(200).contains(`<details class="confirm">`, "/user/sso/identities/", "Your account has no password")
		g.post("/user/sso/identities/" + itoa(id) + "/unlink").status(409).contains("only way into your account")
		if len(s.identities("grace@example.com")) != 1 {
			t.Fatal("the last way in was unlinked")
		}
		// It cannot change a password it does not have, nor sign in with one.
		g.get("/user/change-password").status(403).contains("no password yet")
		s.visitor().post("/user/sign-in", "email", "grace@example.com", "password", "").status(422)

		// An account with a password unlinks, and its other sessions end.
		ada := s.signedIn("ada@example.com")
		op.Next(testenv.OIDCUser{Subject: "ada-at-acme", Email: "ada@acme.test", EmailVerified: true})
		ada.throughProvider("acme", "intent", "link", "link_password", "password for ada@example.com").redirectsTo("/user/security")
		elsewhere := s.visitor()
		elsewhere.post("/user/sign-in", "email", "ada@example.com", "password", "password for ada@example.com").redirectsTo("/")
		adaID := s.identities("ada@example.com")[0].ID

		// Someone else's identity is not theirs to unlink.
		g.post("/user/sso/identities/" + itoa(adaID) + "/unlink").status(404)

		ada.post("/user/sso/identities/" + itoa(adaID) + "/unlink").redirectsTo("/user/security")
		ada.get("/user/security").status(200).contains("The identity is unlinked", "No sign-in provider is linked")
		elsewhere.signedOut()
		if e := s.eventsOf(seclog.IdentityUnlinked); len(e) != 1 {
			t.Errorf("unlink events = %+v", e)
		}
	})
}

func TestSSORefusals(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		t.Run("deactivated account", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, nil)
			op.Next(grace)
			s.visitor().throughProvider("acme").redirectsTo("/")
			u, _ := s.app.Users.ByEmail(context.Background(), "grace@example.com")
			if _, err := s.app.Users.Update(context.Background(), u.ID, users.Changes{Email: u.Email, Roles: u.RoleNames(), Confirmed: true}); err != nil {
				t.Fatal(err)
			}
			v := s.visitor()
			op.Next(grace)
			v.throughProvider("acme").status(403).contains("This account is deactivated")
			v.signedOut()
		})
		t.Run("email domain not allowed", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, nil, func(p *config.OIDCProvider) { p.AllowedDomains = []string{"acme.test"} })
			v := s.visitor()
			op.Next(grace)
			v.throughProvider("acme").status(403).contains("is not one this site takes through Acme ID")
			v.signedOut()
		})
		t.Run("provider may not sign up", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, nil, func(p *config.OIDCProvider) { p.AllowSignup = false })
			op.Next(grace)
			s.visitor().throughProvider("acme").status(403).contains("new accounts cannot be made through Acme ID")
		})
		t.Run("registration closed", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, map[string]string{"USER_ENABLE_REGISTER": "false"})
			op.Next(grace)
			s.visitor().throughProvider("acme").status(403).contains("new accounts cannot be made")
		})
		t.Run("unverified address", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, nil)
			op.Next(testenv.OIDCUser{Subject: "x", Email: "someone@example.com"})
			s.visitor().throughProvider("acme").status(403).contains("Acme ID did not confirm your email address")
		})
		t.Run("consent denied", func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, databaseURL(t), op, nil)
			op.Deny()
			v := s.visitor()
			v.throughProvider("acme").status(403).contains("You did not allow Acme ID to sign you in")
			v.signedOut()
		})
	})
}

func TestSSOStateIsSingleUseAndBoundToTheBrowser(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	s := ssoSite(t, "", op, nil)

	// The same callback twice: the second finds no sign-in in progress.
	v := s.visitor()
	op.Next(grace)
	back := v.toProvider("acme")
	v.get(back).redirectsTo("/")
	v.get(back).status(400).contains("has expired or was already used")

	// A callback in a browser that did not start it.
	op.Next(grace)
	back = s.visitor().toProvider("acme")
	stranger := s.visitor()
	stranger.get(back).status(400).contains("has expired or was already used")
	stranger.signedOut()

	// A tampered state cookie.
	w := s.visitor()
	op.Next(grace)
	back = w.toProvider("acme")
	for name, c := range w.cookies {
		if strings.HasSuffix(name, "_sso") {
			c.Value = "x" + c.Value[1:]
		}
	}
	w.get(back).status(400)

	// An unknown provider's callback or start.
	s.visitor().get("/user/sso/nope/callback?code=x&state=y").status(404)
	s.visitor().post("/user/sso/nope/start").status(404)
	if strings.Contains(s.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", s.logs)
	}
}

func TestSSOStateCookieOfAnotherProvider(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	acme := op.Config("acme")
	acme.Label, acme.AllowSignup = "Acme ID", true
	other := op.Config("other")
	other.Label, other.AllowSignup = "Other ID", true
	list, _ := json.Marshal([]config.OIDCProvider{acme, other})
	s := newSite(t, map[string]string{"OIDC_PROVIDERS": string(list)})
	v := s.visitor()
	v.get("/user/sign-in").status(200).contains("Acme ID", "Other ID")
	op.Next(grace)
	back := v.toProvider("acme")
	v.get(strings.Replace(back, "/user/sso/acme/", "/user/sso/other/", 1)).status(400).contains("has expired or was already used")
	v.signedOut()
}

func TestSSOStartIsAPostFromThisSite(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	s := ssoSite(t, "", op, nil)
	s.visitor().get("/user/sso/acme/start").status(405)
	r := httptest.NewRequest(http.MethodPost, "/user/sso/acme/start", strings.NewReader(""))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	s.visitor().send(r).status(403).contains("Cross-site request refused")

	// The start keeps no session on the server, and its cookie is the
	// state's alone: HttpOnly, Lax, for /user/sso/ only, ten minutes.
	v := s.visitor()
	start := v.post("/user/sso/acme/start")
	cookies := start.rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %+v", cookies)
	}
	c := cookies[0]
	if !strings.HasSuffix(c.Name, "_sso") || c.Path != "/user/sso/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 {
		t.Errorf("state cookie = %+v", c)
	}
	if strings.Contains(c.Value, "grace") || strings.Contains(start.rec.Header().Get("Location"), c.Value) {
		t.Error("the state cookie is not opaque")
	}

	// A start htmx sent (the forms are not boosted, but should one be):
	// htmx is told to load the provider's page as a whole page.
	hx := s.visitor()
	hx.header = http.Header{"Hx-Request": {"true"}, "Hx-Boosted": {"true"}}
	hxStart := hx.post("/user/sso/acme/start").status(204)
	if got := hxStart.rec.Header().Get("HX-Redirect"); !strings.HasPrefix(got, op.URL+"/") {
		t.Errorf("HX-Redirect = %q", got)
	}

	// The sign-in form's redirect to the provider is one the page's
	// Content-Security-Policy lets the browser follow.
	issuer, err := url.Parse(op.URL)
	if err != nil {
		t.Fatal(err)
	}
	csp := s.visitor().get("/user/sign-in").rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' "+issuer.Scheme+"://"+issuer.Host) {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestSSOProviderFailuresAreClearPages(t *testing.T) {
	t.Parallel()
	t.Run("key rotation", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, "", op, nil)
		op.Next(grace)
		s.visitor().throughProvider("acme").redirectsTo("/")
		op.RotateKey()
		v := s.visitor()
		op.Next(grace)
		v.throughProvider("acme").redirectsTo("/")
		v.signedInAs("grace@example.com")
	})
	t.Run("provider down", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, "", op, nil)
		op.Close()
		s.visitor().post("/user/sso/acme/start").status(503).contains("Acme ID is not answering right now")
	})
	t.Run("provider down at the callback", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, "", op, nil)
		v := s.visitor()
		op.Next(grace)
		back := v.toProvider("acme")
		op.Close()
		v.get(back).status(503).contains("Acme ID is not answering right now")
		v.signedOut()
	})
	t.Run("provider slow", func(t *testing.T) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, "", op, nil)
		// The app's providers with a short timeout instead of 10 s.
		set, err := sso.New(s.app.Config, sso.NewHTTPClient(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		s.app.SSO = set
		if s.handler, err = web.New(s.app); err != nil {
			t.Fatal(err)
		}
		v := s.visitor()
		op.Next(grace)
		back := v.toProvider("acme")
		op.SetTokenDelay(2 * time.Second)
		v.get(back).status(503).contains("Acme ID is not answering right now")
		v.signedOut()
	})

	// The ID token fails a check: a clear page, nobody signed in, never a 500.
	for _, c := range []struct {
		name string
		bad  testenv.Misbehaviour
		want int
		says string
	}{
		{"wrong audience", testenv.Misbehaviour{Audience: "someone-else"}, 400, "could not be verified"},
		{"wrong issuer", testenv.Misbehaviour{Issuer: "https://evil.example"}, 400, "could not be verified"},
		{"bad nonce", testenv.Misbehaviour{Nonce: "not-the-nonce"}, 400, "could not be verified"},
		{"expired token", testenv.Misbehaviour{Lifetime: -time.Minute}, 400, "could not be verified"},
		{"key not in the JWKS", testenv.Misbehaviour{UnknownKey: true}, 400, "could not be verified"},
		{"no ID token", testenv.Misbehaviour{NoIDToken: true}, 400, "could not be verified"},
		{"token endpoint error", testenv.Misbehaviour{TokenError: "invalid_grant"}, 502, "Acme ID could not sign you in"},
	} {
		t.Run(c.name, func(t *testing.T) {
			op := testenv.StartOIDCProvider(t)
			s := ssoSite(t, "", op, nil)
			op.Misbehave(c.bad)
			v := s.visitor()
			op.Next(grace)
			v.throughProvider("acme").status(c.want).contains(c.says)
			v.signedOut()
			if _, err := s.app.Users.ByEmail(context.Background(), "grace@example.com"); err == nil {
				t.Error("an account was made")
			}
			if e := s.eventsOf(seclog.SignInFailed); len(e) != 1 || e[0].Method != "sso:acme" {
				t.Errorf("failure events = %+v", e)
			}
		})
	}
}

func itoa(id uint) string {
	b, _ := json.Marshal(id)
	return string(b)
}

// TestSSOGroupsDecideRolesAtEachSignIn: with a groups claim, the groups
// grant admin and dev at every sign-in and take them away when they no
// longer give them; with groups mapped to the user role, someone in none
// of the groups may not sign in, and a linked account loses its sessions.
func TestSSOGroupsDecideRolesAtEachSignIn(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, databaseURL func(testing.TB) string) {
		op := testenv.StartOIDCProvider(t)
		s := ssoSite(t, databaseURL(t), op, nil, func(p *config.OIDCProvider) {
			p.GroupsClaim = "groups"
			p.Roles = map[string][]string{"admin": {"it-admins"}, "user": {"staff"}}
		})
		grace := testenv.OIDCUser{Subject: "grace-1", Email: "grace@example.com", EmailVerified: true, Groups: []string{"staff", "it-admins"}}
		v := s.visitor()
		op.Next(grace)
		v.throughProvider("acme").redirectsTo("/")
		v.get("/admin").status(200)

		// Out of the admins' group: no longer an admin, from the next sign-in on.
		grace.Groups = []string{"staff"}
		w := s.visitor()
		op.Next(grace)
		w.throughProvider("acme").redirectsTo("/")
		w.get("/admin").status(403)

		// In none of the groups: refused, and the open sessions end.
		grace.Groups = []string{"visitors"}
		x := s.visitor()
		op.Next(grace)
		x.throughProvider("acme").status(403).contains("not in a group allowed to use this site")
		x.signedOut()
		w.signedOut()

		// Nor can someone outside the groups make an account.
		op.Next(testenv.OIDCUser{Subject: "eve", Email: "eve@example.com", EmailVerified: true, Groups: []string{"visitors"}})
		s.visitor().throughProvider("acme").status(403).contains("not in a group allowed")
		if _, err := s.app.Users.ByEmail(context.Background(), "eve@example.com"); err == nil {
			t.Error("an account was made for someone in none of the groups")
		}
	})
}

// TestSSOCallbacksSpendTheAddressBudget: a callback checks what it is
// sent like a password, so guessing at it from one address is held back
// like guessing passwords (10 a minute).
func TestSSOCallbacksSpendTheAddressBudget(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	s := ssoSite(t, "", op, nil)
	v := s.visitor()
	for range 10 {
		v.get("/user/sso/acme/callback?code=guess&state=guess").status(400)
	}
	v.get("/user/sso/acme/callback?code=guess&state=guess").status(429)
}

// TestSSOAccountSetsAFirstPasswordByMail: an account made through a
// provider has no password; a reset link by mail sets its first one
// (the mailbox is the account's, its address verified by the
// provider), after which it signs in with it and may unlink the
// provider.
func TestSSOAccountSetsAFirstPasswordByMail(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	s := ssoSite(t, "", op, nil)
	g := s.visitor()
	op.Next(grace)
	g.throughProvider("acme").redirectsTo("/")
	s.visitor().post("/user/sign-in", "email", "grace@example.com", "password", "a first passphrase to set").status(422)

	s.visitor().post("/user/forgot-password", "email", "grace@example.com").redirectsTo("/user/forgot-password?sent=1")
	link := s.lastLink("grace@example.com")
	v := s.visitor()
	v.post(link, "password", "a first passphrase to set", "retype_password", "a first passphrase to set").redirectsTo("/")
	s.visitor().post("/user/sign-in", "email", "grace@example.com", "password", "a first passphrase to set").redirectsTo("/")

	id := s.identities("grace@example.com")[0].ID
	v.post("/user/sso/identities/" + itoa(id) + "/unlink").redirectsTo("/user/security")
	g.signedOut() // the reset ended it already; the unlink would have
}
