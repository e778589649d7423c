package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/launchkit/launchkit/internal/config"
)

// OIDCProvider is an OpenID provider for tests, on 127.0.0.1: discovery,
// JWKS, authorize (with an HTML login page a browser fills in), token and
// userinfo, over real HTTP. It is strict where a real provider is: PKCE
// (S256) is required and checked, codes are single-use and bound to their
// client and redirect URI, the client authenticates with its secret. Its
// Misbehave hooks make it fail the ways real providers do.
type OIDCProvider struct {
	// URL is the issuer, http://127.0.0.1:PORT (no trailing slash).
	URL string
	// ClientID and ClientSecret are the one client it knows.
	ClientID, ClientSecret string

	server *httptest.Server

	mu       sync.Mutex
	users    map[string]OIDCUser // by lower-cased email
	next     *OIDCUser
	deny     bool
	keys     []*signingKey // keys[0] signs; older keys stay in JWKS
	keysUsed int           // of the shared pool (poolKey)
	codes    map[string]*oidcGrant
	tokens   map[string]OIDCUser // access token → user
	bad      Misbehaviour
	hits     map[string]int
	lastReq  url.Values // the last authorization request's query
}

// OIDCUser is an account at the test provider.
type OIDCUser struct {
	Subject, Email string
	EmailVerified  bool
	Name           string
	Groups         []string
	// Extra claims are added to the ID token (and userinfo), replacing
	// the standard ones of the same name, iss and aud included: a groups
	// claim under another name, email_verified as the string "true"…
	Extra map[string]any
}

// Misbehaviour makes the provider fail the ways real ones do, from the
// next token it issues on; the zero value behaves.
type Misbehaviour struct {
	Audience   string        // the ID token's aud instead of the client ID
	Issuer     string        // the ID token's iss instead of URL
	Nonce      string        // the ID token's nonce instead of the request's
	Lifetime   time.Duration // the ID token's lifetime (negative: already expired); default 5m
	TokenDelay time.Duration // the token endpoint answers this late
	UnknownKey bool          // sign with a key that is not in the JWKS
	TokenError string        // the token endpoint answers 400 with this error code
	NoIDToken  bool          // the token response lacks id_token
	NoEmail    bool          // the ID token lacks email (userinfo still has it)
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

type oidcGrant struct {
	user        OIDCUser
	clientID    string
	redirectURI string
	challenge   string
	nonce       string
	expires     time.Time
}

// StartOIDCProvider starts an OpenID provider on 127.0.0.1 (httptest),
// closed when the test ends.
func StartOIDCProvider(t testing.TB) *OIDCProvider {
	t.Helper()
	p := &OIDCProvider{
		ClientID:     "launchkit-test",
		ClientSecret: "test-secret-" + randomName(""),
		users:        map[string]OIDCUser{},
		codes:        map[string]*oidcGrant{},
		tokens:       map[string]OIDCUser{},
		hits:         map[string]int{},
	}
	p.keys = []*signingKey{{id: randomName("k"), key: p.nextKey()}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.login)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits[r.URL.Path]++
		p.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	p.URL = p.server.URL
	t.Cleanup(p.server.Close)
	return p
}

// RSA keys take a while to make (tens of milliseconds each); the test
// providers of one process share a pool of them. Within one provider,
// every key (the first, each rotation, the unknown one) is a different one
// of the pool.
var keyPool struct {
	sync.Mutex
	keys []*rsa.PrivateKey
}

func poolKey(i int) *rsa.PrivateKey {
	keyPool.Lock()
	defer keyPool.Unlock()
	for len(keyPool.keys) <= i {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err) // the system's random source failed
		}
		keyPool.keys = append(keyPool.keys, key)
	}
	return keyPool.keys[i]
}

// nextKey returns a key this provider has not used yet. p.mu is held.
func (p *OIDCProvider) nextKey() *rsa.PrivateKey {
	p.keysUsed++
	return poolKey(p.keysUsed - 1)
}

// Config returns an OIDC_PROVIDERS entry named name pointing at the
// provider, with this client's credentials.
func (p *OIDCProvider) Config(name string) config.OIDCProvider {
	return config.OIDCProvider{
		Name: name, Label: "Test provider " + name, Issuer: p.URL,
		ClientID: p.ClientID, ClientSecret: p.ClientSecret,
	}
}

// OIDCProvidersEnv is entries as the value of OIDC_PROVIDERS in an
// environment (JSON), for NewApp's env or a binary's.
func OIDCProvidersEnv(entries ...config.OIDCProvider) string {
	b, err := json.Marshal(entries)
	if err != nil {
		panic(err) // strings, bools, lists and maps of strings always marshal
	}
	return string(b)
}

// AddUser adds (or replaces) an account the login page accepts.
func (p *OIDCProvider) AddUser(u OIDCUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[strings.ToLower(u.Email)] = u
}

// Next makes the next authorization sign in as u without a login page
// (for HTTP tests that do not fill the login page).
func (p *OIDCProvider) Next(u OIDCUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.deny = &u, false
}

// Deny makes the next authorization answer error=access_denied, as when
// the user refuses consent.
func (p *OIDCProvider) Deny() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next, p.deny = nil, true
}

// RotateKey makes the provider sign with a new key (a new kid) from now
// on; JWKS serves it and the previous one.
func (p *OIDCProvider) RotateKey() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append([]*signingKey{{id: randomName("k"), key: p.nextKey()}}, p.keys[0])
}

// Misbehave sets how the provider misbehaves from now on (the zero value
// makes it behave again).
func (p *OIDCProvider) Misbehave(m Misbehaviour) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad = m
}

// SetTokenDelay makes the token endpoint answer d late.
func (p *OIDCProvider) SetTokenDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bad.TokenDelay = d
}

// Close stops the provider: it is down from then on.
func (p *OIDCProvider) Close() { p.server.Close() }

// Hits counts the requests to a path ("/jwks", "/token",
// "/.well-known/openid-configuration"…).
func (p *OIDCProvider) Hits(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[path]
}

// LastAuthorization returns the query of the last authorization request
// (scope, code_challenge, nonce…).
func (p *OIDCProvider) LastAuthorization() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastReq
}

func (p *OIDCProvider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"userinfo_endpoint":                     p.URL + "/userinfo",
		"jwks_uri":                              p.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code"},
	})
}

func (p *OIDCProvider) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	var set jose.JSONWebKeySet
	for _, k := range p.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.id, Algorithm: "RS256", Use: "sig"})
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// authorize checks the request, then signs in the queued user, denies,
// or shows the login page.
func (p *OIDCProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, ok := p.checkAuthorization(w, q)
	if !ok {
		return
	}
	p.mu.Lock()
	p.lastReq = q
	next, deny := p.next, p.deny
	p.next, p.deny = nil, false
	p.mu.Unlock()
	switch {
	case deny:
		p.redirectError(w, r, redirect, q.Get("state"), "access_denied")
	case next != nil:
		p.redirectCode(w, r, redirect, q, *next)
	default:
		p.loginPage(w, q, "")
	}
}

// checkAuthorization validates the client, redirect URI, response type,
// scope and PKCE challenge; on a problem it answers and returns false.
func (p *OIDCProvider) checkAuthorization(w http.ResponseWriter, q url.Values) (*url.URL, bool) {
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != p.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return nil, false
	}
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		http.Error(w, "redirect_uri must be an absolute http(s) URL", http.StatusBadRequest)
		return nil, false
	}
	problem := ""
	switch {
	case q.Get("response_type") != "code":
		problem = "unsupported_response_type"
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		problem = "invalid_scope"
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		problem = "invalid_request" // PKCE with S256 is required
	}
	if problem != "" {
		u := *redirect
		v := u.Query()
		v.Set("error", problem)
		v.Set("state", q.Get("state"))
		u.RawQuery = v.Encode()
		w.Header().Set("Location", u.String())
		w.WriteHeader(http.StatusFound)
		return nil, false
	}
	return redirect, true
}

var oidcLoginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><main>
<h1>Test provider</h1>
{{if .Problem}}<p role="alert">{{.Problem}}</p>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Query}}{{range $v}}<input type="hidden" name="{{$k}}" value="{{.}}">{{end}}{{end}}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<button type="submit" name="action" value="signin">Sign in</button>
<button type="submit" name="action" value="deny" formnovalidate>Cancel</button>
</form>
</main></body></html>`))

func (p *OIDCProvider) loginPage(w http.ResponseWriter, q url.Values, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	status := http.StatusOK
	if problem != "" {
		status = http.StatusUnauthorized
	}
	w.WriteHeader(status)
	_ = oidcLoginPage.Execute(w, map[string]any{"Query": q, "Problem": problem})
}

// login is the login page's form: the authorization request's query in
// hidden fields, the email typed, and the button pressed.
func (p *OIDCProvider) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	q := url.Values{}
	for k, v := range r.PostForm {
		if k != "email" && k != "action" {
			q[k] = v
		}
	}
	redirect, ok := p.checkAuthorization(w, q)
	if !ok {
		return
	}
	if r.PostForm.Get("action") == "deny" {
		p.redirectError(w, r, redirect, q.Get("state"), "access_denied")
		return
	}
	p.mu.Lock()
	u, known := p.users[strings.ToLower(strings.TrimSpace(r.PostForm.Get("email")))]
	p.mu.Unlock()
	if !known {
		p.loginPage(w, q, "No account with that email at the test provider.")
		return
	}
	p.redirectCode(w, r, redirect, q, u)
}

func (p *OIDCProvider) redirectError(w http.ResponseWriter, r *http.Request, redirect *url.URL, state, code string) {
	u := *redirect
	v := u.Query()
	v.Set("error", code)
	if state != "" {
		v.Set("state", state)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *OIDCProvider) redirectCode(w http.ResponseWriter, r *http.Request, redirect *url.URL, q url.Values, u OIDCUser) {
	code := randomName("c") + randomName("")
	p.mu.Lock()
	p.codes[code] = &oidcGrant{
		user: u, clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), expires: time.Now().Add(time.Minute),
	}
	p.mu.Unlock()
	to := *redirect
	v := to.Query()
	v.Set("code", code)
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	to.RawQuery = v.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound)
}

// token exchanges a code: client authenticated, code single-use and
// unexpired, same redirect URI, and the PKCE verifier matching.
func (p *OIDCProvider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	bad := p.bad
	p.mu.Unlock()
	// Reading the body first lets the server notice a client that gives
	// up waiting (the request's context ends), so a delay ends with it.
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if bad.TokenDelay > 0 {
		select {
		case <-time.After(bad.TokenDelay):
		case <-r.Context().Done():
			return
		}
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(p.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if bad.TokenError != "" {
		tokenError(w, http.StatusBadRequest, bad.TokenError)
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	p.mu.Lock()
	code := r.PostForm.Get("code")
	g := p.codes[code]
	delete(p.codes, code) // single-use, even when the rest fails
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case g == nil || time.Now().After(g.expires) || g.clientID != id:
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	case g.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	case r.PostForm.Get("code_verifier") == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		tokenError(w, http.StatusBadRequest, "invalid_grant") // PKCE failed
		return
	}
	access := randomName("at") + randomName("")
	idToken, err := p.idToken(g, access, bad)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error")
		return
	}
	p.mu.Lock()
	p.tokens[access] = g.user
	p.mu.Unlock()
	body := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300}
	if !bad.NoIDToken {
		body["id_token"] = idToken
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

func (p *OIDCProvider) idToken(g *oidcGrant, access string, bad Misbehaviour) (string, error) {
	now := time.Now()
	lifetime := 5 * time.Minute
	if bad.Lifetime != 0 {
		lifetime = bad.Lifetime
	}
	claims := userClaims(g.user)
	if bad.NoEmail {
		delete(claims, "email")
		delete(claims, "email_verified")
	}
	claims["iss"] = p.URL
	claims["aud"] = p.ClientID
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(lifetime).Unix()
	claims["amr"] = []string{"pwd"}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	atHash := sha256.Sum256([]byte(access))
	claims["at_hash"] = base64.RawURLEncoding.EncodeToString(atHash[:16])
	for k, v := range g.user.Extra { // even iss, aud, nonce: the test said so
		claims[k] = v
	}
	if bad.Audience != "" {
		claims["aud"] = bad.Audience
	}
	if bad.Issuer != "" {
		claims["iss"] = bad.Issuer
	}
	if bad.Nonce != "" {
		claims["nonce"] = bad.Nonce
	}
	p.mu.Lock()
	key := p.keys[0]
	if bad.UnknownKey {
		key = &signingKey{id: key.id, key: p.nextKey()} // a known kid, a key not in JWKS
	}
	p.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.id))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	sig, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return sig.CompactSerialize()
}

func userClaims(u OIDCUser) map[string]any {
	c := map[string]any{"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified}
	if u.Name != "" {
		c["name"] = u.Name
	}
	if u.Groups != nil {
		c["groups"] = u.Groups
	}
	for k, v := range u.Extra {
		c[k] = v
	}
	return c
}

func (p *OIDCProvider) userinfo(w http.ResponseWriter, r *http.Request) {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	u, known := p.tokens[access]
	p.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, userClaims(u))
}

func tokenError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
