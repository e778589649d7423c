package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/users"
)

// Device cookies keep strangers from locking an account's owner out.
// This is the defence OWASP calls "slow down online guessing attacks
// with device cookies".
//
// An account's password checks spend a budget shared by everyone
// (guessesPerAccount). Once strangers have spent it, nobody new gets in,
// not even with the right password. A browser where the account has
// signed in before carries a signed cookie that names the account and
// gives that browser an ID. Its password checks for that account spend a
// budget of the browser's own, which strangers' failures never touch, so
// the owner still signs in during an attack. A stolen device cookie is
// worth one more budget of guesses, no more.
//
// The cookie is encrypted and signed with keys derived for device cookies
// of this deployment (keyring.DeviceCookie). It is sent only from this
// site (SameSite=Strict), and to every path: a sign-in that starts a
// session elsewhere (the admin panel signing its own user out everywhere)
// must see the browser's other accounts to keep them. It remembers the
// last few accounts the browser signed in to (maxDeviceAccounts), each by
// the hash its guessing budget is keyed by (accountKey), never by its
// name. Each entry is also bound to the account's session key
// (users.User.SessionKey), a secret of this database. Another deployment
// that shares SECRET_KEY and BASE_URL therefore cannot mint device
// cookies for this one's accounts. Ending the account's sessions (a
// password change, "sign out everywhere") also forgets its other
// browsers; the one that made the change is remembered again.
//
// The JSON API takes no cookies, so its password checks always spend the
// shared budget. An owner locked out of /api/v1/credentials during an
// attack can still sign in from their browser and make a key on
// /user/apikeys.
type deviceCookies struct {
	name   string
	secure bool
	codecs []securecookie.Codec
}

// deviceLifetime is how long a browser stays known after its last
// sign-in to an account.
const deviceLifetime = 180 * 24 * time.Hour

// maxDeviceAccounts is how many accounts one browser is remembered for;
// the one signed in to longest ago is forgotten first.
const maxDeviceAccounts = 5

// deviceEntry is one account a browser has signed in to.
type deviceEntry struct {
	// Account is the account's budget key (accountKey): a hash of its
	// name.
	Account string `json:"a"`
	// User is the account's ID.
	User uint `json:"u"`
	// Device is this browser's ID for that account: the key of its own
	// guessing budget.
	Device string `json:"d"`
	// Proof binds the entry to the account's session key (deviceProof).
	Proof string `json:"p"`
}

// deviceProof is the proof of an entry for device made while u had its
// session key: an HMAC keyed with that key, which only this database holds.
func deviceProof(u *users.User, device string) string {
	mac := hmac.New(sha256.New, []byte(u.SessionKey))
	mac.Write([]byte("device cookie\x00" + device))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

func newDeviceCookies(cfg *config.Config, keys *keyring.Keyring) *deviceCookies {
	return &deviceCookies{
		name:   cfg.SessionCookieName + "_device",
		secure: cfg.IsProduction(),
		codecs: keys.Codecs(keyring.DeviceCookie, deviceLifetime),
	}
}

// entries reads the request's device cookie. A missing, tampered or
// expired cookie, or one made by another deployment, has none.
func (d *deviceCookies) entries(r *http.Request) []deviceEntry {
	c, err := r.Cookie(d.name)
	if err != nil {
		return nil
	}
	var payload []byte
	if securecookie.DecodeMulti(d.name, c.Value, &payload, d.codecs...) != nil {
		return nil
	}
	var entries []deviceEntry
	if json.Unmarshal(payload, &entries) != nil {
		return nil
	}
	return entries
}

// entry returns this browser's entry for the account with budget key
// account, if it has signed in to that account.
func (d *deviceCookies) entry(r *http.Request, account string) (deviceEntry, bool) {
	for _, e := range d.entries(r) {
		if e.Account == account && e.Device != "" {
			return e, true
		}
	}
	return deviceEntry{}, false
}

// proves reports whether e is an entry made for u, with its current
// session key.
func (e deviceEntry) proves(u *users.User) bool {
	return u.SessionKey != "" && e.User == u.ID &&
		hmac.Equal([]byte(e.Proof), []byte(deviceProof(u, e.Device)))
}

// remember marks this browser as one where u has signed in. It keeps the
// browser's ID for the account if it already has one, and sets the cookie
// again with a fresh lifetime.
//
// A navigation from another site (an OpenID provider's redirect back)
// does not carry the cookie, which is SameSite=Strict: written then, it
// would forget the browser's other accounts, so it is left as it is.
func (d *deviceCookies) remember(w http.ResponseWriter, r *http.Request, u *users.User) error {
	if _, err := r.Cookie(d.name); err != nil && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return nil
	}
	account := accountKey(ownGuessKey(u))
	entries := d.entries(r)
	device := rand.Text()
	if i := slices.IndexFunc(entries, func(e deviceEntry) bool { return e.Account == account }); i >= 0 {
		if entries[i].Device != "" {
			device = entries[i].Device
		}
		entries = slices.Delete(entries, i, i+1)
	}
	entry := deviceEntry{Account: account, User: u.ID, Device: device, Proof: deviceProof(u, device)}
	entries = append([]deviceEntry{entry}, entries...)
	entries = entries[:min(len(entries), maxDeviceAccounts)]
	payload, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	value, err := securecookie.EncodeMulti(d.name, payload, d.codecs[0])
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: d.name, Value: value, Path: "/",
		MaxAge:   int(deviceLifetime.Seconds()),
		HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteStrictMode,
	})
	return nil
}
