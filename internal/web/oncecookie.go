package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/keyring"
)

// onceCookie is a short-lived cookie that carries a value from one
// request of a browser to a later one, and is used once: encrypted and
// signed with keys derived for its purpose (so no other cookie, and no
// other deployment, can stand in for it), HttpOnly, SameSite=Lax, sent
// only under path, and deleted from the browser when read. It carries an
// OpenID Connect sign-in from its start to the provider's callback
// (sso.go) and names a passkey ceremony from its begin to its finish
// (passkeys.go). Visitors get it without a server-side session.
type onceCookie struct {
	name, path string
	lifetime   time.Duration
	secure     bool
	codecs     []securecookie.Codec
}

// newOnceCookie is the once-cookie named after the session cookie with
// suffix, for purpose p, lasting lifetime.
func newOnceCookie(cfg *config.Config, keys *keyring.Keyring, suffix, path string, p keyring.Purpose, lifetime time.Duration) *onceCookie {
	return &onceCookie{
		name: cfg.SessionCookieName + suffix, path: path, lifetime: lifetime,
		secure: cfg.IsProduction(), codecs: keys.Codecs(p, lifetime),
	}
}

// set sends the browser the cookie holding value.
func (c *onceCookie) set(w http.ResponseWriter, value []byte) error {
	encoded, err := securecookie.EncodeMulti(c.name, value, c.codecs[0])
	if err != nil {
		return fmt.Errorf("encode the %s cookie: %w", c.name, err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.name, Value: encoded, Path: c.path, MaxAge: int(c.lifetime.Seconds()),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// take returns the value of the request's cookie and deletes the cookie
// from the browser; false when there is none, or it was tampered with,
// made elsewhere or is older than its lifetime.
func (c *onceCookie) take(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	cookie, err := r.Cookie(c.name)
	if err != nil {
		return nil, false
	}
	http.SetCookie(w, &http.Cookie{Name: c.name, Value: "", Path: c.path, MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	var value []byte
	if err := securecookie.DecodeMulti(c.name, cookie.Value, &value, c.codecs...); err != nil {
		return nil, false
	}
	return value, true
}
