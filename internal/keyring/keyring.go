// Package keyring derives every key Launchkit signs or encrypts with from
// SECRET_KEY, and from the older keys in SECRET_KEY_FALLBACKS, so that
// they can still be read during a rotation.
//
// No value is ever signed with SECRET_KEY itself. Each key is derived
// (HKDF-SHA256) for one purpose, such as the session cookie or the device
// cookie, and for this deployment, named by its BASE_URL. (Secrets kept in
// the deployment's own database, the keys of authenticator apps, are
// sealed with keys derived without the address: AtRestSealer.) A value made
// for one purpose is refused for any other. A value made by another
// deployment that shares the SECRET_KEY (staging beside production, two
// apps of one team) is refused too.
//
// What the keys protect still has to be checked against this deployment's
// own records. For example, a session names its user's session key (see
// users.User.SessionKey), which exists only in this database, so a
// session cannot be forged even with SECRET_KEY.
package keyring

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// Purpose names what a key is for. Each purpose gets keys of its own.
type Purpose string

// The purposes of keys. Add a new one for each new kind of signed or
// encrypted value; never reuse one.
const (
	// SessionCookie encrypts and signs the whole session, with
	// SESSION_STORE=cookie.
	SessionCookie Purpose = "session cookie"
	// DeviceCookie signs the cookie that marks a browser where an account
	// has signed in before, which gives it a guessing budget of its own.
	DeviceCookie Purpose = "device cookie"
	// SSOState encrypts and signs the cookie that carries a sign-in
	// through an OpenID Connect provider (state, nonce, PKCE verifier)
	// from its start to the provider's redirect back.
	SSOState Purpose = "sso state"
	// SessionRegistry encrypts the session tokens the registry of
	// signed-in sessions keeps (session.Registry), so that a reader of
	// the database cannot use them.
	SessionRegistry Purpose = "session registry"
	// SecondFactor encrypts the shared keys of users' authenticator apps
	// (TOTP), kept in the database (users.Service.Secrets).
	SecondFactor Purpose = "second factor"
	// PasskeyChallenge signs the short-lived cookie that names a pending
	// passkey ceremony (its challenge is kept server-side, used once).
	PasskeyChallenge Purpose = "passkey challenge"
)

// ErrNoKey is returned by New without a secret key.
var ErrNoKey = errors.New("no SECRET_KEY to derive keys from")

// Keyring holds the secret keys of this deployment, the current one
// first. It is safe for concurrent use.
type Keyring struct {
	secrets  [][]byte
	identity string
}

// New returns the keyring of the deployment at baseURL (BASE_URL) with
// secret as its current key (SECRET_KEY) and fallbacks as older keys
// that are still read (SECRET_KEY_FALLBACKS).
func New(secret string, fallbacks []string, baseURL string) (*Keyring, error) {
	if secret == "" {
		return nil, ErrNoKey
	}
	k := &Keyring{identity: identity(baseURL)}
	for _, s := range append([]string{secret}, fallbacks...) {
		if s != "" {
			k.secrets = append(k.secrets, []byte(s))
		}
	}
	return k, nil
}

// identity is the name a deployment's keys are bound to: its BASE_URL,
// with the scheme and host lower-cased and without a trailing slash.
// Moving a site to another address ends what was signed for the old one,
// which its browsers would no longer send anyway.
func identity(baseURL string) string {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Host == "" {
		return strings.TrimSpace(baseURL)
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
}

// Keys returns the size-byte key for purpose and use (what the key does
// within the purpose, such as "HMAC-SHA256"), derived from each secret
// key: the current key's first, then the fallbacks' keys, in order.
func (k *Keyring) Keys(p Purpose, use string, size int) [][]byte {
	// The info string is unambiguous: neither part can contain NUL, and
	// each part is prefixed with its length.
	return k.derive(fmt.Sprintf("launchkit keyring v1\x00%d:%s\x00%d:%s\x00%d:%s", len(p), p, len(use), use, len(k.identity), k.identity), size)
}

// atRestKeys are Keys for values this deployment keeps in its own
// database (AtRestSealer): derived without the deployment's address, so
// that moving the site to another BASE_URL does not make them unreadable.
// They never leave the database, so no other deployment is sent them.
func (k *Keyring) atRestKeys(p Purpose, use string, size int) [][]byte {
	return k.derive(fmt.Sprintf("launchkit keyring v1 at rest\x00%d:%s\x00%d:%s", len(p), p, len(use), use), size)
}

// derive returns the size-byte key for info from each secret key.
func (k *Keyring) derive(info string, size int) [][]byte {
	out := make([][]byte, len(k.secrets))
	for i, s := range k.secrets {
		key, err := hkdf.Key(sha256.New, s, nil, info, size)
		if err != nil {
			// Only a size past HKDF-SHA256's 8160 bytes fails.
			panic(fmt.Sprintf("keyring: derive a %d-byte key: %v", size, err))
		}
		out[i] = key
	}
	return out
}

// Codecs returns securecookie codecs for purpose. Each codec encrypts with
// AES-256 and signs with HMAC-SHA256, and refuses values older than
// maxAge. The current key's codec comes first: encode with it, and decode
// with all of them (securecookie.DecodeMulti). Values are stored as they
// are given ([]byte): the codecs add no serializer.
func (k *Keyring) Codecs(p Purpose, maxAge time.Duration) []securecookie.Codec {
	hashKeys := k.Keys(p, "HMAC-SHA256", 32)
	blockKeys := k.Keys(p, "AES-256", 32)
	codecs := make([]securecookie.Codec, len(hashKeys))
	for i := range hashKeys {
		sc := securecookie.New(hashKeys[i], blockKeys[i])
		sc.SetSerializer(securecookie.NopEncoder{})
		sc.MaxAge(int(maxAge.Seconds()) + 1)
		codecs[i] = sc
	}
	return codecs
}
