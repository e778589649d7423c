package session

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/launchkit/launchkit/internal/keyring"
)

// Cookie is the Manager that keeps the whole session in the visitor's
// cookie (SESSION_STORE=cookie), as the Flask original does by default:
// nothing on the server at all. The cookie is encrypted (AES-256) and
// signed (HMAC-SHA256) by gorilla/securecookie with keys derived from
// SECRET_KEY for session cookies of this deployment (internal/keyring); a
// cookie made with a key in SECRET_KEY_FALLBACKS still reads, and is made
// again with the current key when it is next saved, so a key can be
// rotated without signing everyone out.
//
// What a cookie session cannot do: end a copy of itself. Sign-out clears
// the browser's cookie, but a copy taken earlier stays valid until its
// idle timeout or lifetime — unless the user's sessions are ended (a
// password change, "sign out of all other sessions"), which the signed-in
// user check enforces for every store. The cookie holds at most about
// 4 KB of session data.
type Cookie struct {
	codecs  []securecookie.Codec
	opts    Options
	refresh time.Duration
	key     *int // the context key of this manager's sessions
}

var _ Manager = (*Cookie)(nil)

// NewCookie returns the cookie Manager, with keys derived for session
// cookies from the deployment's keyring: the current SECRET_KEY's for new
// cookies, and every key's, fallbacks included, for reading.
func NewCookie(keys *keyring.Keyring, opts Options) *Cookie {
	return &Cookie{
		codecs:  keys.Codecs(keyring.SessionCookie, opts.Lifetime),
		opts:    opts,
		refresh: refreshInterval(opts.IdleTimeout),
		key:     new(int),
	}
}

// cookieState is one request's session.
type cookieState struct {
	mu       sync.Mutex
	values   map[string]any
	deadline time.Time
	loaded   bool // read from a cookie (not new)
	modified bool
	ended    bool // destroyed: the cookie is to be cleared
	// refresh: the last-seen time is due to be saved again, or the cookie
	// was made with a fallback key.
	refresh bool
}

func (c *Cookie) state(ctx context.Context) *cookieState {
	st, ok := ctx.Value(c.key).(*cookieState)
	if !ok {
		panic("session: no session in the context: the handler is not wrapped by LoadAndSave")
	}
	return st
}

// LoadAndSave implements Manager.
func (c *Cookie) LoadAndSave(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		st := c.load(r)
		ctx := context.WithValue(r.Context(), c.key, st)
		sr := r.WithContext(ctx)
		sw := &saveWriter{ResponseWriter: w, save: func() bool {
			if err := c.save(w, st); err != nil {
				onError(w, sr, err)
				return false
			}
			return true
		}}
		next.ServeHTTP(sw, sr)
		sw.saveOnce()
	})
}

// load reads the request's cookie; one that does not decode (tampered
// with, made with a key no longer accepted) is no session.
func (c *Cookie) load(r *http.Request) *cookieState {
	now := time.Now()
	st := &cookieState{values: map[string]any{}, deadline: now.Add(c.opts.Lifetime)}
	cookie, err := r.Cookie(c.opts.Name)
	if err != nil {
		return st
	}
	var payload []byte
	current := c.codecs[0].Decode(c.opts.Name, cookie.Value, &payload) == nil
	if !current && securecookie.DecodeMulti(c.opts.Name, cookie.Value, &payload, c.codecs[1:]...) != nil {
		return st
	}
	deadline, values, err := codec{}.Decode(payload)
	if err != nil {
		return st
	}
	if !now.Before(deadline) {
		st.ended = true // outlived its lifetime
		return st
	}
	st.loaded, st.values, st.deadline, st.refresh = true, values, deadline, !current
	if c.opts.IdleTimeout > 0 {
		seen, ok := values[seenKey].(int64)
		since := now.Sub(time.UnixMilli(seen))
		if ok && since >= c.opts.IdleTimeout {
			st.values, st.loaded, st.ended = map[string]any{}, false, true
			return st
		}
		st.refresh = st.refresh || !ok || since >= c.refresh
	}
	return st
}

// save sets the cookie of a changed session (or one due a refresh), or
// clears that of an ended one; an unchanged one costs nothing.
func (c *Cookie) save(w http.ResponseWriter, st *cookieState) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.modified && !(st.loaded && st.refresh) {
		if st.ended {
			c.write(w, "", time.Time{})
		}
		return nil
	}
	now := time.Now()
	if c.opts.IdleTimeout > 0 {
		st.values[seenKey] = now.UnixMilli()
	}
	payload, err := codec{}.Encode(st.deadline, st.values)
	if err != nil {
		return err
	}
	value, err := securecookie.EncodeMulti(c.opts.Name, payload, c.codecs[0])
	if err != nil {
		return fmt.Errorf("session cookie: %w (a cookie holds about 4 KB of session data)", err)
	}
	expiry := st.deadline
	if c.opts.IdleTimeout > 0 {
		expiry = earliest(expiry, now.Add(c.opts.IdleTimeout))
	}
	c.write(w, value, expiry)
	return nil
}

// write sets the session cookie, or clears it when expiry is zero.
func (c *Cookie) write(w http.ResponseWriter, value string, expiry time.Time) {
	cookie := &http.Cookie{
		Name: c.opts.Name, Value: value, Path: "/",
		HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteLaxMode,
	}
	if expiry.IsZero() {
		cookie.Expires, cookie.MaxAge = time.Unix(1, 0), -1
	} else {
		cookie.Expires = time.Unix(expiry.Unix()+1, 0)
		cookie.MaxAge = int(time.Until(expiry).Seconds() + 1)
	}
	w.Header().Add("Set-Cookie", cookie.String())
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
}

// Get implements Manager.
func (c *Cookie) Get(ctx context.Context, key string) any {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.values[key]
}

// GetString implements Manager.
func (c *Cookie) GetString(ctx context.Context, key string) string {
	s, _ := c.Get(ctx, key).(string)
	return s
}

// GetInt64 implements Manager.
func (c *Cookie) GetInt64(ctx context.Context, key string) int64 {
	n, _ := c.Get(ctx, key).(int64)
	return n
}

// Exists implements Manager.
func (c *Cookie) Exists(ctx context.Context, key string) bool {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	_, ok := st.values[key]
	return ok
}

// Put implements Manager.
func (c *Cookie) Put(ctx context.Context, key string, value any) {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.values[key], st.modified = value, true
}

// PopString implements Manager.
func (c *Cookie) PopString(ctx context.Context, key string) string {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := st.values[key]
	if !ok {
		return ""
	}
	delete(st.values, key)
	st.modified = true
	s, _ := v.(string)
	return s
}

// Remove implements Manager.
func (c *Cookie) Remove(ctx context.Context, key string) {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.values[key]; ok {
		delete(st.values, key)
		st.modified = true
	}
}

// RenewToken implements Manager: a cookie session has no token to steal
// ahead of sign-in, but it is saved anew, so the privilege change gets a
// new cookie.
func (c *Cookie) RenewToken(ctx context.Context) error {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.modified = true
	return nil
}

// Destroy implements Manager: the data is dropped and the cookie cleared;
// a later Put in the same request starts a new session.
func (c *Cookie) Destroy(ctx context.Context) error {
	st := c.state(ctx)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.values, st.modified, st.loaded, st.ended = map[string]any{}, false, false, true
	st.deadline = time.Now().Add(c.opts.Lifetime)
	return nil
}
