// Package web is Launchkit's HTTP layer: the route map (routes.go), the
// middleware, the handlers, template rendering and the one error renderer
// every error response goes through. It depends on the app container and
// the domain packages; nothing below it knows about HTTP.
//
// Handlers are Server methods in a file named after their page or act
// (signin.go, register.go, password.go, profile.go, links.go, apikeys.go,
// admin.go…), with the shape of handler.go: they return their failure
// and respond answers it. A handler that shows a
// page is named for it (signInPage, widgetsPage); one that acts on a post
// is named for the act (signIn, createWidget, updateWidget, deleteWidget).
// Each page gets a typed data struct; shared pieces are in helpers.go.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/alerts"
	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/cache"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/errreport"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/metrics"
	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/users"
)

// Server holds what the handlers need, each named: the container's
// lifecycle (opening, closing) is none of the handlers' business.
// Handlers are its methods.
type Server struct {
	cfg *config.Config
	// telemetry is the process's tracing (OTEL_*), off unless an
	// endpoint is set (tracing.go).
	telemetry *telemetry.Telemetry
	logger    *slog.Logger
	db        *db.DB        // readiness
	redis     *redis.Client // readiness, the jobs dashboard
	metrics   *metrics.Metrics
	sessions  session.Manager
	limits    *ratelimit.Limiter
	// devices reads and sets the cookies of browsers where an account
	// has signed in before, whose password checks have budgets of their
	// own (devices.go).
	devices *deviceCookies
	outbox  *outbox.Relay
	users   *users.Service
	jobs    *jobs.Client // to queue tasks a request asks for
	cache   *cache.Cache
	alerts  *alerts.Mailer // nil: EMAIL_ERRORS off
	// reports sends panics and 500s to the error tracker (SENTRY_DSN);
	// nil when off.
	reports *errreport.Reporter
	// directory is the LDAP directory users sign in with (USER_LDAP);
	// nil when off.
	directory *directory.Client
	// events is the security log (internal/seclog): the security and
	// admin pages read it, and what the web layer sees happen (a
	// sign-out, a limit hit) is recorded in it.
	events *seclog.Log
	// sso are the OpenID Connect providers users sign in through
	// (OIDC_PROVIDERS; empty when none), and ssoState the cookie that
	// carries a sign-in through one from its start to its callback
	// (sso.go).
	sso      *sso.Set
	ssoState *ssoStateCookies
	// ssoFormTargets are the providers' origins, which the
	// Content-Security-Policy's form-action lets a start's redirect go to.
	ssoFormTargets string
	// passkeyCookie carries a passkey ceremony from its begin to its
	// finish (passkeys.go).
	passkeyCookie *onceCookie
	// relyingParty is the site as a WebAuthn relying party (passkeys.go);
	// nil when BASE_URL cannot name one (an IP address): passkeys are off.
	relyingParty *webauthn.WebAuthn
	// registry lists each user's sessions, and ender ends one of them
	// (sessions.go); ender is nil with the cookie store, which can do
	// neither.
	registry *session.Registry
	ender    session.Ender
	// now is the clock (time.Now; tests set another with WithClock).
	now func() time.Time
	// devMail is the outbox the development mail viewer reads: set in
	// development when mail goes to MAIL_OUTBOX_DIR, nil otherwise.
	devMail *mail.Outbox
	// storage keeps uploaded files (profile pictures, scaffolded file
	// fields); files are served after the owning record's access check.
	storage storage.Store
	// fileOrigin is, after a space, the origin of the store's own
	// addresses (an S3 bucket's presigned URLs), where the pictures the
	// site shows are fetched from: the Content-Security-Policy's img-src
	// allows it. Empty when the app serves files itself.
	fileOrigin string
	// (go run ./tools/scaffold adds its resources' services here.)
	// scaffold:server

	templates *templateSet
	extra     func(chi.Router)
	drain     *Drain // nil: never draining
	// proxies are TRUSTED_PROXIES: peers whose forwarding headers give
	// the client's address.
	proxies []netip.Prefix
}

// Option changes a Server.
type Option func(*Server)

// WithExtraRoutes mounts more routes among the site's pages (with their
// session and cross-origin middleware); tests use it for handlers that
// exist only to exercise the middleware.
func WithExtraRoutes(f func(chi.Router)) Option {
	return func(s *Server) { s.extra = f }
}

// WithClock makes the server read the time from now: tests use it for
// rules about how long ago something happened.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// New returns the site's handler.
func New(a *app.App, opts ...Option) (http.Handler, error) {
	s, err := newServer(a, opts...)
	if err != nil {
		return nil, err
	}
	return s.traced(s.routes()), nil
}

// newServer builds the Server the handlers of the site share.
func newServer(a *app.App, opts ...Option) (*Server, error) {
	s := &Server{
		cfg: a.Config, logger: a.Logger, db: a.DB, redis: a.Redis, metrics: a.Metrics,
		sessions: a.Sessions, limits: a.Limits, outbox: a.Outbox, users: a.Users, jobs: a.Jobs, cache: a.Cache, alerts: a.Alerts,
		directory: a.Directory, events: a.Events, now: time.Now, proxies: trustedProxies(a.Config), devices: newDeviceCookies(a.Config, a.Keys),
		sso: a.SSO, ssoState: newSSOStateCookies(a.Config, a.Keys), ssoFormTargets: ssoFormTargets(a.SSO),
		passkeyCookie: newPasskeyCookie(a.Config, a.Keys), storage: a.Storage,
		telemetry: a.Telemetry, reports: a.Reports,
	}
	if ender, ok := a.Sessions.(session.Ender); ok {
		s.ender, s.registry = ender, a.SessionRegistry
	}
	if outbox, ok := a.Mailer.(*mail.Outbox); ok && a.Config.Env == config.EnvDevelopment {
		s.devMail = outbox
	}
	if rp, err := newRelyingParty(a.Config); err == nil {
		s.relyingParty = rp
	} else {
		s.logger.Warn("passkeys are off: BASE_URL cannot name the site to WebAuthn", "base_url", a.Config.BaseURL, "err", err)
	}
	s.fileOrigin = fileOrigin(a.Storage)
	// scaffold:serverwire
	for _, o := range opts {
		o(s)
	}
	var err error
	if s.templates, err = newTemplateSet(a.Config.Env); err != nil {
		return nil, err
	}
	if s.templates.fromDisk {
		s.logger.Info("templates and static files are read from disk on each request (development)")
	}
	return s, nil
}

// ReadTimeout is how long a request, its body included, may take to
// arrive: a 10 MiB upload needs about 1.4 Mbit/s.
const ReadTimeout = 60 * time.Second

// MaxHeaderBytes bounds a request's headers; larger ones get a 431.
const MaxHeaderBytes = 64 << 10

// Serve answers HTTP on ln until ctx is cancelled, then stops accepting,
// lets in-flight requests finish within shutdownTimeout and returns nil.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, shutdownTimeout time.Duration, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Near what proxies accept; more is answered 431 (Go's default
		// would take a megabyte of headers per request).
		MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("http server shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	return nil
}

// fileOrigin is, after a space, the origin of store's presigned URLs
// (scheme and host of the address it gives for a key), or "" for a store
// the app serves from itself.
func fileOrigin(store storage.Store) string {
	if store == nil {
		return ""
	}
	u, err := store.URL(context.Background(), "origin/probe.png", storage.Download{Inline: true})
	if err != nil || u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return " " + p.Scheme + "://" + p.Host
}
