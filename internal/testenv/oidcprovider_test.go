package testenv_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
)

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const (
	testRedirect = "http://127.0.0.1:1/user/sso/test/callback"
	testVerifier = "a-verifier-long-enough-for-pkce-0123456789abcdef"
)

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeQuery(p *testenv.OIDCProvider) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {p.ClientID}, "redirect_uri": {testRedirect},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"nn"},
		"code_challenge": {challenge(testVerifier)}, "code_challenge_method": {"S256"},
	}
}

// callback returns the query the provider redirected back with.
func callback(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("answered %s, want a redirect back", resp.Status)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), testRedirect+"?") {
		t.Fatalf("redirected to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func exchange(t *testing.T, p *testenv.OIDCProvider, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, p.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestOIDCProviderLoginPage(t *testing.T) {
	t.Parallel()
	p := testenv.StartOIDCProvider(t)
	p.AddUser(testenv.OIDCUser{Subject: "s1", Email: "alice@example.com", EmailVerified: true})
	resp, err := http.Get(p.URL + "/authorize?" + authorizeQuery(p).Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `name="email"`) || !strings.Contains(string(page), `value="signin"`) {
		t.Fatalf("no login page: %s\n%s", resp.Status, page)
	}

	form := authorizeQuery(p)
	form.Set("email", "nobody@example.com")
	form.Set("action", "signin")
	resp, err = noRedirects.PostForm(p.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown email: %s, want 401", resp.Status)
	}

	form.Set("email", "Alice@example.com")
	resp, err = noRedirects.PostForm(p.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	q := callback(t, resp)
	if q.Get("code") == "" || q.Get("state") != "st" {
		t.Fatalf("callback query = %v", q)
	}
	token := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	if status, body := exchange(t, p, token); status != http.StatusOK || body["id_token"] == nil {
		t.Errorf("token: %d %v", status, body)
	}
	if status, body := exchange(t, p, token); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("the same code again: %d %v, want invalid_grant", status, body)
	}

	form.Set("action", "deny")
	resp, err = noRedirects.PostForm(p.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	if q := callback(t, resp); q.Get("error") != "access_denied" || q.Get("state") != "st" {
		t.Errorf("cancel: %v", q)
	}
}

func TestOIDCProviderEnforcesPKCE(t *testing.T) {
	t.Parallel()
	p := testenv.StartOIDCProvider(t)
	q := authorizeQuery(p)
	q.Del("code_challenge")
	resp, err := noRedirects.Get(p.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got := callback(t, resp); got.Get("error") != "invalid_request" {
		t.Errorf("no code_challenge: %v, want error=invalid_request", got)
	}
	q.Set("code_challenge", challenge(testVerifier))
	q.Set("code_challenge_method", "plain")
	resp, err = noRedirects.Get(p.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got := callback(t, resp); got.Get("error") != "invalid_request" {
		t.Errorf("plain PKCE: %v, want error=invalid_request", got)
	}

	for name, edit := range map[string]func(url.Values){
		"no verifier":        func(v url.Values) { v.Del("code_verifier") },
		"a wrong verifier":   func(v url.Values) { v.Set("code_verifier", testVerifier+"x") },
		"another redirect":   func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:1/elsewhere") },
		"the challenge sent": func(v url.Values) { v.Set("code_verifier", challenge(testVerifier)) },
	} {
		p.Next(testenv.OIDCUser{Subject: "s1", Email: "a@example.com"})
		resp, err := noRedirects.Get(p.URL + "/authorize?" + authorizeQuery(p).Encode())
		if err != nil {
			t.Fatal(err)
		}
		code := callback(t, resp).Get("code")
		token := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
		edit(token)
		if status, body := exchange(t, p, token); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v, want invalid_grant", name, status, body)
		}
	}
}

func TestOIDCProviderRefusesAWrongClientSecret(t *testing.T) {
	t.Parallel()
	p := testenv.StartOIDCProvider(t)
	req, _ := http.NewRequest(http.MethodPost, p.URL+"/token", strings.NewReader("grant_type=authorization_code&code=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.ClientID, "wrong")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong secret: %s, want 401", resp.Status)
	}
}

func TestOIDCProvidersEnvLoads(t *testing.T) {
	t.Parallel()
	p := testenv.StartOIDCProvider(t)
	env := map[string]string{"ENV": "test", "OIDC_PROVIDERS": testenv.OIDCProvidersEnv(p.Config("one"), p.Config("two"))}
	cfg, err := config.Load(t.Context(), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.OIDCProviders) != 2 || cfg.OIDCProviders[1].Name != "two" || cfg.OIDCProviders[0].Issuer != p.URL || cfg.OIDCProviders[0].ClientSecret != p.ClientSecret {
		t.Errorf("providers = %+v", cfg.OIDCProviders)
	}
}
