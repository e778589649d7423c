package session

import (
	"context"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
)

// CookieOptions shape the session cookie and expiry.
type CookieOptions struct {
	Name        string
	Lifetime    time.Duration // absolute
	IdleTimeout time.Duration // 0 disables
	Secure      bool          // true in production
}

// SCS is the Manager on alexedwards/scs.
type SCS struct {
	sm *scs.SessionManager
}

var _ Manager = (*SCS)(nil)

// NewSCS returns a Manager keeping session data in store.
func NewSCS(store scs.Store, opts CookieOptions) *SCS {
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = opts.Lifetime
	sm.IdleTimeout = opts.IdleTimeout
	sm.Cookie.Name = opts.Name
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = opts.Secure
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = true
	return &SCS{sm: sm}
}

// LoadAndSave implements Manager.
func (s *SCS) LoadAndSave(next http.Handler, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if onError != nil {
		s.sm.ErrorFunc = onError
	}
	return s.sm.LoadAndSave(next)
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
