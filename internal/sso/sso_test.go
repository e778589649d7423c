package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/testenv"
)

var alice = testenv.OIDCUser{Subject: "alice-1", Email: "Alice@Example.com ", EmailVerified: true, Name: "Alice", Groups: []string{"staff", "ops"}}

// setup starts a test provider and a Set with one provider, "test",
// pointing at it; edit may change its entry.
func setup(t *testing.T, edit func(*config.OIDCProvider)) (*testenv.OIDCProvider, *sso.Provider) {
	t.Helper()
	op := testenv.StartOIDCProvider(t)
	return op, providerFor(t, op, sso.NewHTTPClient(2*time.Second), edit)
}

func providerFor(t *testing.T, op *testenv.OIDCProvider, client *http.Client, edit func(*config.OIDCProvider)) *sso.Provider {
	t.Helper()
	pc := op.Config("test")
	if edit != nil {
		edit(&pc)
	}
	set, err := sso.New(&config.Config{BaseURL: "http://app.test/", OIDCProviders: []config.OIDCProvider{pc}}, client)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := set.Get("test")
	if !ok {
		t.Fatal(`Get("test") found nothing`)
	}
	return p
}

// browse follows authURL to the provider as a browser would and returns
// the query it is sent back to the callback with.
func browse(t *testing.T, authURL string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("the provider answered %s, not a redirect back", resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "http://app.test/user/sso/test/callback" {
		t.Fatalf("redirected to %s, not the callback", got)
	}
	return loc.Query()
}

// signIn runs a whole sign-in as u and returns Finish's result.
func signIn(t *testing.T, op *testenv.OIDCProvider, p *sso.Provider, u testenv.OIDCUser) (*sso.Claims, error) {
	t.Helper()
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	op.Next(u)
	return p.Finish(t.Context(), pending, browse(t, authURL))
}

func TestSignInReturnsTheVerifiedClaims(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	c, err := signIn(t, op, p, alice)
	if err != nil {
		t.Fatal(err)
	}
	want := sso.Claims{Issuer: op.URL, Subject: "alice-1", Email: "alice@example.com", EmailVerified: true, Name: "Alice", AMR: []string{"pwd"}}
	if c.Issuer != want.Issuer || c.Subject != want.Subject || c.Email != want.Email || !c.EmailVerified || c.Name != want.Name || !slices.Equal(c.AMR, want.AMR) {
		t.Errorf("claims = %+v, want %+v", *c, want)
	}
	if c.Groups != nil {
		t.Errorf("groups = %q without a groups_claim", c.Groups)
	}
	if p.Roles(c) != nil {
		t.Errorf("Roles = %q without a groups_claim, want nil (roles left alone)", p.Roles(c))
	}
}

func TestStartAsksForTheCodeWithPKCEStateAndNonce(t *testing.T) {
	t.Parallel()
	_, p := setup(t, func(pc *config.OIDCProvider) { pc.Scopes = []string{"email", "groups"} })
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	checks := map[string]string{
		"response_type": "code", "client_id": "launchkit-test", "code_challenge_method": "S256",
		"state": pending.State, "nonce": pending.Nonce, "scope": "openid email groups",
		"redirect_uri": "http://app.test/user/sso/test/callback",
	}
	for k, want := range checks {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if q.Get("code_challenge") == "" || q.Get("code_challenge") == pending.Verifier {
		t.Errorf("code_challenge %q is not an S256 hash of the verifier", q.Get("code_challenge"))
	}
	if q.Get("client_secret") != "" || strings.Contains(authURL, p.Config.ClientSecret) {
		t.Error("the client secret is in the authorization URL")
	}
	_, again, _ := p.Start(t.Context())
	if again.State == pending.State || again.Nonce == pending.Nonce || again.Verifier == pending.Verifier || len(pending.State) < 40 {
		t.Errorf("state, nonce and verifier are not fresh random values: %+v, %+v", pending, again)
	}
	if pending.Provider != "test" || time.Since(time.Unix(pending.Created, 0)) > time.Minute {
		t.Errorf("pending = %+v", pending)
	}
}

func TestDiscoveryIsFetchedOnceAndLazily(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	if n := op.Hits("/.well-known/openid-configuration"); n != 0 {
		t.Fatalf("New fetched discovery %d times; it should wait for the first use", n)
	}
	for range 2 {
		if _, err := signIn(t, op, p, alice); err != nil {
			t.Fatal(err)
		}
	}
	if n := op.Hits("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times for two sign-ins, want 1", n)
	}
}

// The verifier must reach the token endpoint: the test provider refuses a
// code without the verifier matching its challenge.
func TestTheCodeNeedsThePKCEVerifier(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Next(alice)
	q := browse(t, authURL)
	other := pending
	_, other2, _ := p.Start(t.Context())
	other.Verifier = other2.Verifier
	if _, err := p.Finish(t.Context(), other, q); !errors.Is(err, sso.ErrProvider) {
		t.Errorf("a wrong verifier: err = %v, want ErrProvider", err)
	}
	// The code was spent by that attempt: single use.
	if _, err := p.Finish(t.Context(), pending, q); !errors.Is(err, sso.ErrProvider) {
		t.Errorf("a code used twice: err = %v, want ErrProvider", err)
	}
}

func TestDeniedConsent(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Deny()
	if _, err := p.Finish(t.Context(), pending, browse(t, authURL)); !errors.Is(err, sso.ErrDenied) {
		t.Errorf("err = %v, want ErrDenied", err)
	}
}

func TestOtherProviderErrors(t *testing.T) {
	t.Parallel()
	_, p := setup(t, nil)
	_, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"state": {pending.State}, "error": {"server_error\n<script>"}}
	_, err = p.Finish(t.Context(), pending, q)
	if !errors.Is(err, sso.ErrProvider) || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q, want ErrProvider on one line", err)
	}
	if _, err := p.Finish(t.Context(), pending, url.Values{"state": {pending.State}}); !errors.Is(err, sso.ErrProvider) {
		t.Errorf("no code: err = %v, want ErrProvider", err)
	}
}

func TestStateMustMatch(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Next(alice)
	q := browse(t, authURL)
	cases := map[string]func() (sso.Pending, url.Values){
		"another state": func() (sso.Pending, url.Values) {
			bad := url.Values{"code": {q.Get("code")}, "state": {"forged"}}
			return pending, bad
		},
		"no state":                             func() (sso.Pending, url.Values) { return pending, url.Values{"code": {q.Get("code")}} },
		"no pending attempt (another browser)": func() (sso.Pending, url.Values) { return sso.Pending{Provider: "test"}, q },
		"another provider's attempt": func() (sso.Pending, url.Values) {
			other := pending
			other.Provider = "other"
			return other, q
		},
		"an expired attempt": func() (sso.Pending, url.Values) {
			old := pending
			old.Created = time.Now().Add(-sso.PendingLifetime - time.Minute).Unix()
			return old, q
		},
		"a denial for another attempt": func() (sso.Pending, url.Values) {
			return pending, url.Values{"error": {"access_denied"}, "state": {"forged"}}
		},
	}
	for name, c := range cases {
		pd, query := c()
		if _, err := p.Finish(t.Context(), pd, query); !errors.Is(err, sso.ErrState) {
			t.Errorf("%s: err = %v, want ErrState", name, err)
		}
	}
	// None of those spent the code.
	if _, err := p.Finish(t.Context(), pending, q); err != nil {
		t.Errorf("the real callback after the refused ones: %v", err)
	}
}

func TestTokensThatMustNotVerify(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]testenv.Misbehaviour{
		"wrong audience":                 {Audience: "another-client"},
		"wrong issuer":                   {Issuer: "https://evil.example"},
		"wrong nonce":                    {Nonce: "replayed-nonce"},
		"expired":                        {Lifetime: -time.Minute},
		"signed by a key not in the set": {UnknownKey: true},
		"no ID token":                    {NoIDToken: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			op, p := setup(t, nil)
			op.Misbehave(m)
			c, err := signIn(t, op, p, alice)
			if !errors.Is(err, sso.ErrInvalidToken) {
				t.Errorf("err = %v (claims %+v), want ErrInvalidToken", err, c)
			}
		})
	}
}

func TestKeyRotationRefetchesTheJWKS(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	if _, err := signIn(t, op, p, alice); err != nil {
		t.Fatal(err)
	}
	before := op.Hits("/jwks")
	if _, err := signIn(t, op, p, alice); err != nil {
		t.Fatal(err)
	}
	if op.Hits("/jwks") != before {
		t.Errorf("the JWKS was fetched again with no new key")
	}
	op.RotateKey()
	if _, err := signIn(t, op, p, alice); err != nil {
		t.Fatalf("after the provider rotated its key: %v", err)
	}
	if op.Hits("/jwks") != before+1 {
		t.Errorf("JWKS fetched %d times after the rotation, want once", op.Hits("/jwks")-before)
	}
}

func TestProviderDown(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	op.Close()
	if _, _, err := p.Start(t.Context()); !errors.Is(err, sso.ErrUnavailable) {
		t.Errorf("Start with the provider down: err = %v, want ErrUnavailable", err)
	}
	if _, err := p.Check(t.Context()); !errors.Is(err, sso.ErrUnavailable) {
		t.Errorf("Check with the provider down: err = %v, want ErrUnavailable", err)
	}
}

func TestDiscoveryIsRetriedAfterAFailure(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	flaky := &flakyTransport{base: sso.NewHTTPClient(2 * time.Second).Transport}
	flaky.down.Store(true)
	p := providerFor(t, op, &http.Client{Transport: flaky}, nil)
	if _, _, err := p.Start(t.Context()); !errors.Is(err, sso.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	flaky.down.Store(false)
	if _, err := signIn(t, op, p, alice); err != nil {
		t.Fatalf("the provider is back but: %v", err)
	}
}

// flakyTransport fails every request while down.
type flakyTransport struct {
	base http.RoundTripper
	down atomic.Bool
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused")
	}
	return f.base.RoundTrip(r)
}

func TestProviderDownAfterStart(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Next(alice)
	q := browse(t, authURL)
	op.Close()
	if _, err := p.Finish(t.Context(), pending, q); !errors.Is(err, sso.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestSlowTokenEndpointTimesOut(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	p := providerFor(t, op, sso.NewHTTPClient(300*time.Millisecond), nil)
	op.SetTokenDelay(5 * time.Second)
	start := time.Now()
	_, err := signIn(t, op, p, alice)
	if !errors.Is(err, sso.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a slow provider held the sign-in %s", took)
	}
}

func TestTokenEndpointRefusal(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	op.Misbehave(testenv.Misbehaviour{TokenError: "invalid_grant"})
	if _, err := signIn(t, op, p, alice); !errors.Is(err, sso.ErrProvider) {
		t.Errorf("err = %v, want ErrProvider", err)
	}
}

func TestWrongClientSecret(t *testing.T) {
	t.Parallel()
	op, p := setup(t, func(pc *config.OIDCProvider) { pc.ClientSecret = "not-the-secret" })
	_, err := signIn(t, op, p, alice)
	if !errors.Is(err, sso.ErrProvider) {
		t.Errorf("err = %v, want ErrProvider", err)
	}
	if err != nil && strings.Contains(err.Error(), "not-the-secret") {
		t.Errorf("the error quotes the client secret: %v", err)
	}
}

func TestEmailFromUserinfoWhenTheTokenLacksIt(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	op.Misbehave(testenv.Misbehaviour{NoEmail: true})
	c, err := signIn(t, op, p, alice)
	if err != nil {
		t.Fatal(err)
	}
	if c.Email != "alice@example.com" || !c.EmailVerified {
		t.Errorf("email = %q verified %v, want it from userinfo", c.Email, c.EmailVerified)
	}
}

func TestEmailVerifiedAsAString(t *testing.T) {
	t.Parallel()
	for value, want := range map[any]bool{"true": true, "True": true, "false": false, true: true, false: false, 1: false} {
		op, p := setup(t, nil)
		u := alice
		u.Extra = map[string]any{"email_verified": value}
		c, err := signIn(t, op, p, u)
		if err != nil {
			t.Fatal(err)
		}
		if c.EmailVerified != want {
			t.Errorf("email_verified %#v read as %v, want %v", value, c.EmailVerified, want)
		}
	}
}

func TestAllowedDomains(t *testing.T) {
	t.Parallel()
	_, p := setup(t, func(pc *config.OIDCProvider) { pc.AllowedDomains = []string{"example.com", "example.org"} })
	for email, want := range map[string]bool{
		"alice@example.com": true, "bob@EXAMPLE.org": true, "eve@evil.com": false,
		"eve@sub.example.com": false, "eve@example.com.evil.com": false, "": false, "example.com": false, "eve@": false,
	} {
		if got := p.EmailAllowed(email); got != want {
			t.Errorf("EmailAllowed(%q) = %v, want %v", email, got, want)
		}
	}
	_, open := setup(t, nil)
	if !open.EmailAllowed("anyone@anywhere.net") {
		t.Error("a provider without allowed_domains refuses an address")
	}
}

func TestGroupsMapToRoles(t *testing.T) {
	t.Parallel()
	roles := map[string][]string{"admin": {"ops"}, "dev": {"engineering"}, "user": {"staff", "contractors"}}
	op, p := setup(t, func(pc *config.OIDCProvider) { pc.GroupsClaim = "groups"; pc.Roles = roles })
	c, err := signIn(t, op, p, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Groups, []string{"staff", "ops"}) {
		t.Errorf("groups = %q", c.Groups)
	}
	if got := p.Roles(c); !slices.Equal(got, []string{"admin", "user"}) {
		t.Errorf("Roles = %q, want [admin user]", got)
	}
	bob := testenv.OIDCUser{Subject: "bob", Email: "bob@example.com", Groups: []string{"sales"}}
	c, err = signIn(t, op, p, bob)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Roles(c); got == nil || len(got) != 0 {
		t.Errorf("Roles of a user in no mapped group = %#v, want empty (not nil: the roles are taken away)", got)
	}
}

func TestGroupsClaimForms(t *testing.T) {
	t.Parallel()
	op, p := setup(t, func(pc *config.OIDCProvider) {
		pc.GroupsClaim = "https://example.com/roles"
		pc.Roles = map[string][]string{"admin": {"admins"}}
	})
	for name, c := range map[string]struct {
		value any
		want  []string
	}{
		"one string":                  {"admins", []string{"admins"}},
		"a list with other things":    {[]any{"admins", 3, nil, "x"}, []string{"admins", "x"}},
		"an object (not groups)":      {map[string]any{"a": 1}, []string{}},
		"a namespaced claim (Auth0)…": {[]string{"admins"}, []string{"admins"}},
	} {
		u := alice
		u.Groups = nil
		u.Extra = map[string]any{"https://example.com/roles": c.value}
		claims, err := signIn(t, op, p, u)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(claims.Groups, c.want) {
			t.Errorf("%s: groups = %#v, want %#v", name, claims.Groups, c.want)
		}
	}
}

func TestCheckReportsDiscoveryAndKeys(t *testing.T) {
	t.Parallel()
	op, p := setup(t, func(pc *config.OIDCProvider) { pc.AllowedDomains = []string{"example.com"} })
	op.RotateKey()
	r, err := p.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r.Issuer != op.URL || r.AuthURL != op.URL+"/authorize" || r.TokenURL != op.URL+"/token" || r.JWKSURL != op.URL+"/jwks" || r.UserInfoURL != op.URL+"/userinfo" {
		t.Errorf("endpoints = %+v", r)
	}
	if r.Keys != 2 || r.RedirectURL != "http://app.test/user/sso/test/callback" || !slices.Equal(r.Scopes, []string{"openid", "email", "profile"}) || !slices.Equal(r.AllowedDomains, []string{"example.com"}) {
		t.Errorf("report = %+v", r)
	}
}

func TestNewAndTheSet(t *testing.T) {
	t.Parallel()
	var none *sso.Set
	if _, ok := none.Get("x"); ok || none.List() != nil {
		t.Error("a nil Set is not empty")
	}
	cfg := &config.Config{BaseURL: "https://app.example", OIDCProviders: []config.OIDCProvider{
		{Name: "google", Issuer: "https://accounts.google.com", ClientID: "a"},
		{Name: "okta", Label: "Okta", Issuer: "https://x.okta.com", ClientID: "b"},
	}}
	set, err := sso.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	list := set.List()
	if len(list) != 2 || list[0].Name() != "google" || list[1].Name() != "okta" {
		t.Fatalf("List = %v", list)
	}
	if list[0].Label() != "google" || list[1].Label() != "Okta" || list[1].RedirectURL() != "https://app.example/user/sso/okta/callback" {
		t.Errorf("labels/redirect: %q %q %q", list[0].Label(), list[1].Label(), list[1].RedirectURL())
	}
	cfg.OIDCProviders = append(cfg.OIDCProviders, config.OIDCProvider{Name: "okta", Issuer: "https://y", ClientID: "c"})
	if _, err := sso.New(cfg, nil); err == nil {
		t.Error("New accepted two providers of one name")
	}
	empty, err := sso.New(&config.Config{}, nil)
	if err != nil || len(empty.List()) != 0 {
		t.Errorf("no providers: %v, %v", empty.List(), err)
	}
}

// A context cancelled by the caller (the request ended) stops the
// exchange too.
func TestFinishHonoursTheContext(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Next(alice)
	q := browse(t, authURL)
	op.SetTokenDelay(5 * time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := p.Finish(ctx, pending, q); !errors.Is(err, sso.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestSeveralAudiencesNeedOurAZP(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	u := alice
	u.Extra = map[string]any{"aud": []string{"another-client", op.ClientID}}
	if _, err := signIn(t, op, p, u); !errors.Is(err, sso.ErrInvalidToken) {
		t.Errorf("two audiences, no azp: err = %v, want ErrInvalidToken", err)
	}
	u.Extra["azp"] = "another-client"
	if _, err := signIn(t, op, p, u); !errors.Is(err, sso.ErrInvalidToken) {
		t.Errorf("two audiences, issued to the other client: err = %v, want ErrInvalidToken", err)
	}
	u.Extra["azp"] = op.ClientID
	if _, err := signIn(t, op, p, u); err != nil {
		t.Errorf("two audiences, issued to us: %v", err)
	}
}

func TestACallbackFromAnotherIssuer(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	authURL, pending, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	op.Next(alice)
	q := browse(t, authURL)
	q.Set("iss", "https://evil.example")
	if _, err := p.Finish(t.Context(), pending, q); !errors.Is(err, sso.ErrProvider) {
		t.Errorf("err = %v, want ErrProvider", err)
	}
	q.Set("iss", op.URL)
	if _, err := p.Finish(t.Context(), pending, q); err != nil {
		t.Errorf("the right iss: %v", err)
	}
}

func TestAnIssuerThatDiffersFromDiscovery(t *testing.T) {
	t.Parallel()
	op, p := setup(t, func(pc *config.OIDCProvider) { pc.Issuer += "/" })
	_, _, err := p.Start(t.Context())
	if !errors.Is(err, sso.ErrProvider) || !strings.Contains(err.Error(), "trailing slash") || !strings.Contains(err.Error(), op.URL+"/") {
		t.Errorf("err = %v, want ErrProvider naming both issuers and the slash", err)
	}
}

func TestATokenWithoutSubject(t *testing.T) {
	t.Parallel()
	op, p := setup(t, nil)
	u := alice
	u.Subject = ""
	if _, err := signIn(t, op, p, u); !errors.Is(err, sso.ErrInvalidToken) {
		t.Errorf("err = %v, want ErrInvalidToken", err)
	}
}
