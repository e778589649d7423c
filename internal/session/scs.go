package session

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// Options shape the session cookie and expiry.
type Options struct {
	Name     string
	Lifetime time.Duration // absolute: no session outlives it, however busy
	// IdleTimeout ends a session unused for this long; 0 disables it.
	IdleTimeout time.Duration
	Secure      bool // true in production
	// OnStoreWrite, when set, is told of every write that reaches the
	// store: "commit" or "delete" (the metrics count them).
	OnStoreWrite func(op string)
}

// SCS is the Manager on alexedwards/scs.
//
// scs on its own re-saves every session on every request while an idle
// timeout is set, to push the expiry forward: with the database store
// that is a write per signed-in page view, and on SQLite every signed-in
// request queues behind the one writer. SCS keeps the idle timeout itself
// instead: the session remembers when it was last seen, and a request
// that changes nothing saves it again only when that was more than a
// refresh interval ago (a tenth of the idle timeout, at most a minute).
// A steady visitor therefore costs one store write a minute, not one per
// request, and an idle session still ends within the idle timeout.
type SCS struct {
	sm      *scs.SessionManager
	store   expiringStore
	idle    time.Duration
	refresh time.Duration
}

var _ Manager = (*SCS)(nil)

// seenKey holds when the session was last saved, in Unix milliseconds.
const seenKey = "_seen"

// refreshInterval is how stale the recorded last visit may get before a
// request that changes nothing saves it again.
func refreshInterval(idle time.Duration) time.Duration {
	return min(idle/10, time.Minute)
}

// NewSCS returns a Manager keeping session data in store.
func NewSCS(store scs.Store, opts Options) *SCS {
	sm := scs.New()
	es := expiringStore{store: store, idle: opts.IdleTimeout, onWrite: opts.OnStoreWrite}
	sm.Store = es
	sm.Codec = codec{}
	sm.Lifetime = opts.Lifetime
	// scs's own idle handling writes on every request; SCS does it.
	sm.IdleTimeout = 0
	sm.Cookie.Name = opts.Name
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = opts.Secure
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = true
	return &SCS{sm: sm, store: es, idle: opts.IdleTimeout, refresh: refreshInterval(opts.IdleTimeout)}
}

// LoadAndSave implements Manager. It is scs's LoadAndSave with the idle
// timeout kept by SCS: the session is saved, and its cookie set, only
// when the request changed it or its last-seen time is due a refresh.
func (s *SCS) LoadAndSave(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(s.sm.Cookie.Name); err == nil {
			token = c.Value
		}
		ctx, err := s.sm.Load(r.Context(), token)
		if errors.Is(err, errUnreadable) {
			// Written by another version, or damaged: no session, rather
			// than an error on every page until it expires.
			ctx, err = s.sm.Load(r.Context(), "")
		}
		refreshDue := false
		if err == nil {
			refreshDue, err = s.expire(ctx)
		}
		if err != nil {
			onError(w, r, err)
			return
		}
		loaded := s.sm.Token(ctx) // "" when no stored session was found
		sr := r.WithContext(ctx)
		sw := &saveWriter{ResponseWriter: w, save: func() bool {
			if err := s.save(ctx, w, loaded, refreshDue); err != nil {
				onError(w, sr, err)
				return false
			}
			return true
		}}
		next.ServeHTTP(sw, sr)
		sw.saveOnce()
	})
}

// expire ends a loaded session that has been idle too long or outlived
// its lifetime (the stores expire them too; this also holds when a
// store's clock lags), and reports whether its last-seen time is older
// than the refresh interval, so that saving it is due.
func (s *SCS) expire(ctx context.Context) (refreshDue bool, err error) {
	if s.sm.Token(ctx) == "" {
		return false, nil // no stored session: nothing to expire or refresh
	}
	now := time.Now()
	if !now.Before(s.sm.Deadline(ctx)) {
		return false, s.sm.Destroy(ctx)
	}
	if s.idle <= 0 {
		return false, nil
	}
	seen, ok := s.sm.Get(ctx, seenKey).(int64)
	since := now.Sub(time.UnixMilli(seen))
	if ok && since >= s.idle {
		return false, s.sm.Destroy(ctx)
	}
	// A session saved before sessions recorded a last-seen time is due
	// too; the store's own expiry still held it to the idle timeout.
	return !ok || since >= s.refresh, nil
}

// save writes a changed session to the store and sets its cookie, or
// expires the cookie of a destroyed one. An unchanged session costs
// nothing unless its refresh is due. A session loaded from the store
// (token loaded) and saved under the same token is saved only if the
// store still holds it, in one conditional write (see Store.UpdateCtx),
// so that a request in flight while the session was ended elsewhere (a
// sign-out in another tab) cannot bring it back; a new or renewed token
// (sign-in) needs no such check.
func (s *SCS) save(ctx context.Context, w http.ResponseWriter, loaded string, refreshDue bool) error {
	status := s.sm.Status(ctx)
	if status == scs.Unmodified && !refreshDue {
		return nil
	}
	switch status {
	case scs.Unmodified, scs.Modified:
		now := time.Now()
		if s.idle > 0 {
			s.sm.Put(ctx, seenKey, now.UnixMilli()) // this save is a visit too
		}
		commit := ctx
		if loaded != "" && s.sm.Token(ctx) == loaded {
			commit = context.WithValue(ctx, onlyIfHeld{}, true)
		}
		token, expiry, err := s.sm.Commit(commit)
		if errors.Is(err, errEnded) {
			return nil // ended meanwhile: it stays ended, and its cookie is left alone
		}
		if err != nil {
			return err
		}
		if s.idle > 0 {
			expiry = earliest(expiry, now.Add(s.idle))
		}
		s.sm.WriteSessionCookie(ctx, w, token, expiry)
	case scs.Destroyed:
		s.sm.WriteSessionCookie(ctx, w, "", time.Time{})
	}
	return nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// saveWriter saves the session just before the response starts, as
// headers cannot change after that.
type saveWriter struct {
	http.ResponseWriter
	save  func() bool
	saved bool
	ok    bool
}

// saveOnce saves the session the first time it is called and reports
// whether the response may go on (false when the error was answered).
func (sw *saveWriter) saveOnce() bool {
	if !sw.saved {
		sw.saved = true
		sw.ok = sw.save()
	}
	return sw.ok
}

func (sw *saveWriter) WriteHeader(code int) {
	if sw.saveOnce() {
		sw.ResponseWriter.WriteHeader(code)
	}
}

func (sw *saveWriter) Write(b []byte) (int, error) {
	if !sw.saveOnce() {
		return len(b), nil // the error response has been written instead
	}
	return sw.ResponseWriter.Write(b)
}

// Flush saves the session, then flushes: a response flushed before its
// body (a stream) still sends its cookie.
func (sw *saveWriter) Flush() {
	_ = sw.FlushError()
}

// FlushError is Flush for http.ResponseController.
func (sw *saveWriter) FlushError() error {
	if !sw.saveOnce() {
		return nil
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (sw *saveWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// expiringStore is the store as SCS uses it: every commit's expiry is
// capped at the idle timeout from now (scs, with its own idle handling
// off, would store the absolute deadline), and every write is counted.
type expiringStore struct {
	store   scs.Store
	idle    time.Duration
	onWrite func(op string)
}

var _ scs.CtxStore = expiringStore{}

func (e expiringStore) count(op string) {
	if e.onWrite != nil {
		e.onWrite(op)
	}
}

// FindCtx implements scs.CtxStore.
func (e expiringStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	if c, ok := e.store.(scs.CtxStore); ok {
		return c.FindCtx(ctx, token)
	}
	return e.store.Find(token)
}

// onlyIfHeld marks the context of a commit that must not create the
// session: CommitCtx then fails with errEnded when the store no longer
// holds it.
type onlyIfHeld struct{}

// errEnded: the session was ended while the request ran.
var errEnded = errors.New("session ended meanwhile")

// CommitCtx implements scs.CtxStore.
func (e expiringStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if e.idle > 0 {
		expiry = earliest(expiry, time.Now().Add(e.idle))
	}
	if ctx.Value(onlyIfHeld{}) != nil {
		u, ok := e.store.(updater)
		if !ok {
			u = Store{Store: e.store}
		}
		found, err := u.UpdateCtx(ctx, token, b, expiry)
		if err == nil && !found {
			return errEnded // nothing was written
		}
		e.count("commit")
		return err
	}
	e.count("commit")
	if c, ok := e.store.(scs.CtxStore); ok {
		return c.CommitCtx(ctx, token, b, expiry)
	}
	return e.store.Commit(token, b, expiry)
}

// DeleteCtx implements scs.CtxStore.
func (e expiringStore) DeleteCtx(ctx context.Context, token string) error {
	e.count("delete")
	if c, ok := e.store.(scs.CtxStore); ok {
		return c.DeleteCtx(ctx, token)
	}
	return e.store.Delete(token)
}

// Find, Commit and Delete complete scs.Store; scs calls the Ctx forms.
func (e expiringStore) Find(token string) ([]byte, bool, error) {
	return e.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (e expiringStore) Commit(token string, b []byte, expiry time.Time) error {
	return e.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (e expiringStore) Delete(token string) error {
	return e.DeleteCtx(context.Background(), token)
}

// Get implements Manager.
func (s *SCS) Get(ctx context.Context, key string) any { return s.sm.Get(ctx, key) }

// GetString implements Manager.
func (s *SCS) GetString(ctx context.Context, key string) string { return s.sm.GetString(ctx, key) }

// GetInt64 implements Manager.
func (s *SCS) GetInt64(ctx context.Context, key string) int64 { return s.sm.GetInt64(ctx, key) }

// Exists implements Manager.
func (s *SCS) Exists(ctx context.Context, key string) bool { return s.sm.Exists(ctx, key) }

// Put implements Manager.
func (s *SCS) Put(ctx context.Context, key string, value any) { s.sm.Put(ctx, key, value) }

// PopString implements Manager.
func (s *SCS) PopString(ctx context.Context, key string) string { return s.sm.PopString(ctx, key) }

// Remove implements Manager.
func (s *SCS) Remove(ctx context.Context, key string) { s.sm.Remove(ctx, key) }

// RenewToken implements Manager.
func (s *SCS) RenewToken(ctx context.Context) error { return s.sm.RenewToken(ctx) }

// Destroy implements Manager.
func (s *SCS) Destroy(ctx context.Context) error { return s.sm.Destroy(ctx) }
