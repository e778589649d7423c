// Package sso signs users in through OpenID Connect providers (Google,
// Microsoft Entra ID, Okta, Keycloak, Auth0…), the OIDC_PROVIDERS of the
// configuration: the Authorization Code flow with PKCE (S256), state and
// nonce, and the ID token verified (signature through the provider's JWKS,
// refetched when a token names an unknown key; issuer; audience; expiry;
// nonce). It knows nothing of accounts: the web layer keeps the Pending
// between Start and Finish and decides what the Claims mean for users.
//
// Every call to a provider (discovery, JWKS, token, userinfo) goes through
// one HTTP client with timeouts, so a provider that is down or slow fails
// with ErrUnavailable instead of holding a request. See
// docs/single-sign-on.md.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/launchkit/launchkit/internal/config"
)

// The errors of Start, Finish and Check wrap one of these.
var (
	// ErrUnavailable: the provider is down or slow (timeouts), or its
	// discovery, JWKS or token endpoint failed.
	ErrUnavailable = errors.New("the sign-in provider is unavailable")
	// ErrDenied: the user refused consent (error=access_denied).
	ErrDenied = errors.New("sign-in was cancelled at the provider")
	// ErrProvider: the provider answered with another error.
	ErrProvider = errors.New("the sign-in provider answered with an error")
	// ErrState: the state is missing, does not match, or has expired (a
	// replayed or forged callback).
	ErrState = errors.New("the sign-in attempt is unknown or has expired")
	// ErrInvalidToken: the ID token's signature, issuer, audience,
	// expiry or nonce did not verify.
	ErrInvalidToken = errors.New("the provider's ID token did not verify")
)

// PendingLifetime is how long a Pending stays good: the time a user has
// at the provider's login page. Finish refuses an older one (ErrState).
const PendingLifetime = 10 * time.Minute

// DefaultTimeout bounds each call to a provider when New is given no
// client: connecting, the TLS handshake, and the whole answer.
const DefaultTimeout = 10 * time.Second

// DefaultScopes are asked for besides openid when a provider names none.
var DefaultScopes = []string{"email", "profile"}

// Claims is what a verified ID token (and, if needed, userinfo) says.
type Claims struct {
	Issuer, Subject string
	Email           string // lower-cased, trimmed
	EmailVerified   bool
	Name            string
	Groups          []string // from the provider's groups_claim, if any
	AMR             []string
}

// Pending is what the browser carries between Start and Finish (kept in
// an encrypted, signed, short-lived cookie). All fields are plain strings
// so any codec works.
type Pending struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // PKCE code verifier
	Created  int64  `json:"t"` // unix seconds
}

// Provider is one configured OpenID Connect provider. Its discovery
// document is fetched on first use and kept; a failed fetch is tried again
// on the next use.
type Provider struct {
	// Config is the provider's entry of OIDC_PROVIDERS.
	Config config.OIDCProvider

	redirectURL string
	client      *http.Client
	now         func() time.Time

	mu       sync.Mutex
	oidc     *oidc.Provider
	verifier *oidc.IDTokenVerifier
}

// Set is the configured providers. A nil or empty Set means SSO is off.
type Set struct {
	list   []*Provider
	byName map[string]*Provider
}

// New builds the providers of cfg.OIDCProviders; redirect URLs are
// BASE_URL + "/user/sso/{name}/callback". Nothing is fetched until first
// use. client may be nil: a client with timeouts (DefaultTimeout) is used.
func New(cfg *config.Config, client *http.Client) (*Set, error) {
	if client == nil {
		client = NewHTTPClient(DefaultTimeout)
	}
	base := strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Set{byName: map[string]*Provider{}}
	for _, pc := range cfg.OIDCProviders {
		if pc.Name == "" || pc.Issuer == "" || pc.ClientID == "" {
			return nil, fmt.Errorf("sso: provider %q needs a name, an issuer and a client_id", pc.Name)
		}
		if _, dup := s.byName[pc.Name]; dup {
			return nil, fmt.Errorf("sso: provider %q is configured twice", pc.Name)
		}
		p := &Provider{
			Config:      pc,
			redirectURL: base + "/user/sso/" + url.PathEscape(pc.Name) + "/callback",
			client:      client,
			now:         time.Now,
		}
		s.list = append(s.list, p)
		s.byName[pc.Name] = p
	}
	return s, nil
}

// NewHTTPClient returns a client whose every request (connecting, TLS,
// waiting for and reading the answer) ends within timeout.
func NewHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   4,
			ForceAttemptHTTP2:     true,
		},
		// A provider's endpoints answer directly; following redirects
		// to elsewhere is not part of the protocol.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Get returns the provider of that name.
func (s *Set) Get(name string) (*Provider, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.byName[name]
	return p, ok
}

// List returns the providers in configured order.
func (s *Set) List() []*Provider {
	if s == nil {
		return nil
	}
	return slices.Clone(s.list)
}

// Name is the provider's name, as it appears in URLs.
func (p *Provider) Name() string { return p.Config.Name }

// Label is the sign-in button's text: the configured label, or the name.
func (p *Provider) Label() string {
	if p.Config.Label != "" {
		return p.Config.Label
	}
	return p.Config.Name
}

// RedirectURL is the callback URL to register at the provider.
func (p *Provider) RedirectURL() string { return p.redirectURL }

// Scopes are the scopes asked for: openid, then the configured ones (or
// DefaultScopes).
func (p *Provider) Scopes() []string {
	scopes := []string{oidc.ScopeOpenID}
	extra := p.Config.Scopes
	if len(extra) == 0 {
		extra = DefaultScopes
	}
	for _, s := range extra {
		if !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return scopes
}

// clientContext carries the client with timeouts to go-oidc and oauth2.
func (p *Provider) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// discover returns the provider's discovery and verifier, fetching them
// on first use; a failure is not kept, so the next use tries again.
func (p *Provider) discover(ctx context.Context) (*oidc.Provider, *oidc.IDTokenVerifier, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.oidc != nil {
		return p.oidc, p.verifier, nil
	}
	op, err := oidc.NewProvider(p.clientContext(ctx), p.Config.Issuer)
	if err != nil {
		return nil, nil, discoveryError(p.Config.Issuer, err)
	}
	p.oidc = op
	// The verifier's key set fetches JWKS through the provider's client
	// (the one in the context above), again when a token names a key it
	// does not have: the provider rotated its keys.
	p.verifier = op.Verifier(&oidc.Config{ClientID: p.Config.ClientID, Now: p.now})
	return p.oidc, p.verifier, nil
}

func (p *Provider) oauth2Config(op *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.Config.ClientID,
		ClientSecret: p.Config.ClientSecret,
		Endpoint:     op.Endpoint(),
		RedirectURL:  p.redirectURL,
		Scopes:       p.Scopes(),
	}
}

// Start returns the URL to send the browser to (code flow, PKCE S256,
// state, nonce) and the Pending to keep. It may fetch discovery (lazily,
// cached; a provider down → ErrUnavailable).
func (p *Provider) Start(ctx context.Context) (authURL string, pending Pending, err error) {
	op, _, err := p.discover(ctx)
	if err != nil {
		return "", Pending{}, err
	}
	pending = Pending{
		Provider: p.Name(),
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		Created:  p.now().Unix(),
	}
	authURL = p.oauth2Config(op).AuthCodeURL(pending.State,
		oauth2.S256ChallengeOption(pending.Verifier), oidc.Nonce(pending.Nonce))
	return authURL, pending, nil
}

// Finish checks the callback's query (state matches pending.State,
// error=access_denied → ErrDenied, other error params → ErrProvider),
// exchanges the code with the verifier, verifies the ID token (signature
// via JWKS — refetched on an unknown key id, issuer, audience, expiry,
// nonce == pending.Nonce) and returns its claims. Errors wrap one of the
// sentinels of this package.
func (p *Provider) Finish(ctx context.Context, pending Pending, query url.Values) (*Claims, error) {
	state := query.Get("state")
	switch {
	case pending.Provider != p.Name():
		return nil, fmt.Errorf("%w: the attempt was started with another provider", ErrState)
	case pending.State == "" || pending.Nonce == "" || pending.Verifier == "":
		return nil, fmt.Errorf("%w: no attempt was started in this browser", ErrState)
	case subtle.ConstantTimeCompare([]byte(state), []byte(pending.State)) != 1:
		return nil, fmt.Errorf("%w: the state does not match", ErrState)
	case p.now().Sub(time.Unix(pending.Created, 0)) > PendingLifetime || time.Unix(pending.Created, 0).After(p.now().Add(time.Minute)):
		return nil, fmt.Errorf("%w: the attempt is older than %s", ErrState, PendingLifetime)
	}
	if iss := query.Get("iss"); iss != "" && iss != p.Config.Issuer {
		// RFC 9207: the provider names itself in the callback; another
		// issuer means the browser was sent here from a different one.
		return nil, fmt.Errorf("%w: the callback names another issuer", ErrProvider)
	}
	if code := query.Get("error"); code != "" {
		if code == "access_denied" {
			return nil, ErrDenied
		}
		return nil, fmt.Errorf("%w: %s", ErrProvider, safeText(code))
	}
	code := query.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: the callback has no code", ErrProvider)
	}

	op, verifier, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	cctx := p.clientContext(ctx)
	tok, err := p.oauth2Config(op).Exchange(cctx, code, oauth2.VerifierOption(pending.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			// The provider refused the code: reused, expired, or the
			// verifier does not match its challenge.
			return nil, fmt.Errorf("%w: the token endpoint refused the code: %s", ErrProvider, safeText(re.ErrorCode))
		}
		return nil, fmt.Errorf("%w: token endpoint: %s", ErrUnavailable, oneLine(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no id_token", ErrInvalidToken)
	}
	idt, err := verifier.Verify(cctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "fetching keys") {
			return nil, fmt.Errorf("%w: JWKS: %s", ErrUnavailable, oneLine(err))
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, oneLine(err))
	}
	if strings.TrimSpace(idt.Subject) == "" {
		// The subject is half of the identity's key.
		return nil, fmt.Errorf("%w: the token has no subject", ErrInvalidToken)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pending.Nonce)) != 1 {
		return nil, fmt.Errorf("%w: the nonce does not match", ErrInvalidToken)
	}
	if len(idt.Audience) > 1 {
		// Several audiences: the token must say it was issued to us.
		var azp struct {
			AZP string `json:"azp"`
		}
		if err := idt.Claims(&azp); err != nil || azp.AZP != p.Config.ClientID {
			return nil, fmt.Errorf("%w: the token has several audiences and is not authorized for this client (azp)", ErrInvalidToken)
		}
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
		}
	}

	var raws map[string]json.RawMessage
	if err := idt.Claims(&raws); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	c := &Claims{Issuer: p.Config.Issuer, Subject: idt.Subject}
	p.readClaims(c, raws)
	if (c.Email == "" || (p.Config.GroupsClaim != "" && raws[p.Config.GroupsClaim] == nil)) && op.UserInfoEndpoint() != "" {
		// Some providers put the address or the groups only in userinfo.
		if err := p.userinfo(cctx, op, tok, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// userinfo fills what the ID token lacked from the userinfo endpoint,
// whose subject must be the token's.
func (p *Provider) userinfo(ctx context.Context, op *oidc.Provider, tok *oauth2.Token, c *Claims) error {
	info, err := op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("%w: userinfo: %s", ErrUnavailable, oneLine(err))
	}
	if info.Subject != c.Subject {
		return fmt.Errorf("%w: userinfo is about another subject", ErrInvalidToken)
	}
	var raws map[string]json.RawMessage
	if err := info.Claims(&raws); err != nil {
		return fmt.Errorf("%w: userinfo claims: %v", ErrProvider, err)
	}
	var more Claims
	p.readClaims(&more, raws)
	if c.Email == "" {
		c.Email, c.EmailVerified = more.Email, more.EmailVerified
	}
	if c.Name == "" {
		c.Name = more.Name
	}
	if c.Groups == nil {
		c.Groups = more.Groups
	}
	return nil
}

// readClaims reads the claims Launchkit uses, tolerating the forms
// providers really send: email_verified as "true", groups as one string.
func (p *Provider) readClaims(c *Claims, raws map[string]json.RawMessage) {
	c.Email = strings.ToLower(stringClaim(raws["email"]))
	c.EmailVerified = boolClaim(raws["email_verified"])
	c.Name = stringClaim(raws["name"])
	c.AMR = stringsClaim(raws["amr"])
	if p.Config.GroupsClaim != "" {
		c.Groups = stringsClaim(raws[p.Config.GroupsClaim])
	}
}

// stringClaim reads a string claim, trimmed; "" when absent, null or not
// a string.
func stringClaim(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

func boolClaim(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(strings.TrimSpace(s), "true")
}

// stringsClaim reads a JSON array of strings (other items skipped) or one
// string; nil when absent.
func stringsClaim(raw json.RawMessage) []string {
	if raw == nil {
		return nil
	}
	if string(raw) == "null" {
		return []string{}
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one = strings.TrimSpace(one); one == "" {
			return []string{}
		}
		return []string{one}
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return []string{}
	}
	out := []string{}
	for _, item := range items {
		if s := stringClaim(item); s != "" && string(item) != "null" {
			out = append(out, s)
		}
	}
	return out
}

// Roles maps the claims' Groups to roles through Config.Roles (admin,
// dev, user, in that order). It is nil when the provider has no
// groups_claim (roles are then left alone), and empty, not nil, when the
// user is in none of the mapped groups (the roles are then taken away).
func (p *Provider) Roles(c *Claims) []string {
	if p.Config.GroupsClaim == "" {
		return nil
	}
	roles := []string{}
	for _, role := range []string{"admin", "dev", "user"} {
		for _, g := range p.Config.Roles[role] {
			if c != nil && slices.Contains(c.Groups, g) {
				roles = append(roles, role)
				break
			}
		}
	}
	return roles
}

// EmailAllowed reports whether the address's domain is one of
// AllowedDomains (every address when there are none). Subdomains are not
// included: list each one.
func (p *Provider) EmailAllowed(email string) bool {
	if len(p.Config.AllowedDomains) == 0 {
		return true
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return false
	}
	return slices.Contains(p.Config.AllowedDomains, strings.ToLower(strings.TrimSpace(email[at+1:])))
}

// Report is what Check found, for people.
type Report struct {
	Name, Label, Issuer string
	// From discovery.
	AuthURL, TokenURL, UserInfoURL, JWKSURL string
	SigningAlgs                             []string
	// Keys is how many keys the JWKS serves.
	Keys           int
	RedirectURL    string
	Scopes         []string
	AllowedDomains []string
	GroupsClaim    string
}

// Check is what `manage sso check NAME` runs: a fresh discovery, the JWKS
// fetched (key count), the redirect URL and the scopes. The report holds
// what was learnt before a failure.
func (p *Provider) Check(ctx context.Context) (Report, error) {
	r := Report{
		Name: p.Name(), Label: p.Label(), Issuer: p.Config.Issuer,
		RedirectURL: p.redirectURL, Scopes: p.Scopes(),
		AllowedDomains: p.Config.AllowedDomains, GroupsClaim: p.Config.GroupsClaim,
	}
	op, err := oidc.NewProvider(p.clientContext(ctx), p.Config.Issuer)
	if err != nil {
		return r, discoveryError(p.Config.Issuer, err)
	}
	var doc struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = op.Claims(&doc) // NewProvider already decoded it
	ep := op.Endpoint()
	r.AuthURL, r.TokenURL, r.UserInfoURL, r.JWKSURL, r.SigningAlgs = ep.AuthURL, ep.TokenURL, op.UserInfoEndpoint(), doc.JWKSURL, doc.Algs
	if ep.AuthURL == "" || ep.TokenURL == "" {
		return r, fmt.Errorf("%w: the discovery document lacks the authorization or token endpoint", ErrProvider)
	}
	if doc.JWKSURL == "" {
		return r, fmt.Errorf("%w: the discovery document has no jwks_uri", ErrProvider)
	}
	n, err := p.countKeys(ctx, doc.JWKSURL)
	if err != nil {
		return r, err
	}
	r.Keys = n
	if n == 0 {
		return r, fmt.Errorf("%w: the JWKS at %s has no keys", ErrProvider, doc.JWKSURL)
	}
	return r, nil
}

func (p *Provider) countKeys(ctx context.Context, jwksURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return 0, fmt.Errorf("%w: jwks_uri %q: %v", ErrProvider, jwksURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: JWKS: %s", ErrUnavailable, oneLine(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: JWKS: %s", ErrUnavailable, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return 0, fmt.Errorf("%w: JWKS is not a JSON key set: %s", ErrProvider, oneLine(err))
	}
	return len(set.Keys), nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeText keeps a provider's error code printable and short: it comes
// from the query string, which anyone can write.
func safeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 60 {
		s = s[:60]
	}
	return fmt.Sprintf("%q", s)
}

// oneLine keeps an error from a provider on one line and short: some
// quote the body of an HTML error page.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

// discoveryError says why discovery failed. An issuer that differs from
// the one the provider names is a configuration mistake (ErrProvider),
// most often a trailing slash; anything else is the provider being
// unreachable or broken (ErrUnavailable).
func discoveryError(issuer string, err error) error {
	var mismatch *oidc.IssuerMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Errorf("%w: the configured issuer %q differs from the one the provider names, %q (mind the trailing slash)",
			ErrProvider, mismatch.Provided, mismatch.Discovered)
	}
	return fmt.Errorf("%w: discovery of %s: %s", ErrUnavailable, issuer, oneLine(err))
}
