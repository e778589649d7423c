package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/cache"
	"github.com/launchkit/launchkit/internal/opsserver"
)

// healthz is the liveness probe: the process is up and serving.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// publicMetrics reports whether the site's own address serves /metrics:
// not when METRICS_ADDR has a listener for them, and in production only
// behind METRICS_TOKEN, as they tell anyone the routes and the runtime.
func (s *Server) publicMetrics() bool {
	cfg := s.cfg
	return cfg.MetricsAddr == "" && (!cfg.IsProduction() || cfg.MetricsToken != "")
}

// MetricsHandler serves the Prometheus metrics of a, without a token: for
// the private METRICS_ADDR listener.
func MetricsHandler(a *app.App) http.Handler {
	return opsserver.Metrics(a.Metrics.Handler(slog.NewLogLogger(a.Logger.Handler(), slog.LevelError)))
}

// metricsHandler serves the Prometheus metrics, behind a bearer token when
// METRICS_TOKEN is set.
func (s *Server) metricsHandler() http.HandlerFunc {
	h := s.metrics.Handler(slog.NewLogLogger(s.logger.Handler(), slog.LevelError))
	want := []byte("Bearer " + s.cfg.MetricsToken)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			s.respond(w, r, errUnauthorized(`Bearer realm="metrics"`, "This endpoint needs the metrics token."))
			return
		}
		h.ServeHTTP(w, r)
	}
}

type check struct {
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
}

// advisoryCheck is the readiness check reported without making /readyz
// answer 503.
const advisoryCheck = "directory"

// directoryCheckKey names the cached result of /readyz's directory
// check, kept for directoryCheckTTL: /readyz is public, and each check
// costs the directory a connection and a bind. The cache computes it once
// for every probe waiting, on its own context (a probe that gives up does
// not fail it). A directory sign-in forgets it, so /readyz shows an outage
// a sign-in met, or its end, at the next probe.
const (
	directoryCheckKey = "readyz:directory"
	directoryCheckTTL = 5 * time.Second
)

// checkDirectory is /readyz's directory check, through the cache.
func (s *Server) checkDirectory(ctx context.Context) error {
	problem, err := cache.Fetch(ctx, s.cache, directoryCheckKey, directoryCheckTTL, func(ctx context.Context) (string, error) {
		if err := s.directory.Ping(ctx); err != nil {
			return err.Error(), nil // a result to keep, not a failure to retry
		}
		return "", nil
	})
	if err == nil && problem != "" {
		err = errors.New(problem)
	}
	return err
}

// readyTimeout is how long readyz waits for the database and Redis.
const readyTimeout = 2 * time.Second

// readyz is the readiness probe: 200 when the database and Redis answer
// within two seconds, else 503. The JSON says which one failed; the cause
// goes to the log, not to the (public) response. It answers at the
// deadline even when a check is still waiting (a client that does not
// honour its context, a connection that never opens). With USER_LDAP it
// also reports the directory (a service bind), without answering 503 for
// it: a directory outage stops only directory sign-ins, and taking every
// web process out of rotation for it would stop everything else too.
// Each check's result is kept in launchkit_readiness_check_ok, which the
// readiness alert (deploy/prometheus) watches.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.drain.Draining() {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "draining"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	type result struct {
		name string
		check
	}
	pings := map[string]func(context.Context) error{
		"database": s.db.Ping,
		"redis":    func(ctx context.Context) error { return s.redis.Ping(ctx).Err() },
	}
	if s.directory != nil {
		pings[advisoryCheck] = s.checkDirectory
	}
	results := make(chan result, len(pings))
	for name, ping := range pings {
		go func() {
			start := time.Now()
			err := ping(ctx)
			c := check{Status: "ok", LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				c.Status = "down"
				s.logger.WarnContext(r.Context(), "readiness check failed", "check", name, "err", err)
			}
			results <- result{name, c}
		}()
	}
	checks := map[string]check{}
	for len(checks) < len(pings) {
		select {
		case res := <-results:
			checks[res.name] = res.check
		case <-ctx.Done():
			for name := range pings {
				if _, ok := checks[name]; !ok {
					checks[name] = check{Status: "down", LatencyMS: readyTimeout.Milliseconds()}
					s.logger.WarnContext(r.Context(), "readiness check failed", "check", name, "err", "no answer within "+readyTimeout.String())
				}
			}
		}
	}

	status, overall := http.StatusOK, "ok"
	for name, c := range checks {
		s.metrics.ObserveReadiness(name, c.Status == "ok")
		if c.Status != "ok" && name != advisoryCheck {
			status, overall = http.StatusServiceUnavailable, "unavailable"
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": overall, "checks": checks})
}

// Drain is a web process's shutdown state, shared by its signal handling
// and its /readyz: once Start is called, /readyz answers 503 (status
// "draining") while requests are still served, so that a load balancer
// stops sending new ones before the listener closes.
type Drain struct{ on atomic.Bool }

// Start marks the process as draining.
func (d *Drain) Start() { d.on.Store(true) }

// Draining reports whether Start was called.
func (d *Drain) Draining() bool { return d != nil && d.on.Load() }

// WithDrain has /readyz answer 503 once d is started.
func WithDrain(d *Drain) Option {
	return func(s *Server) { s.drain = d }
}

// DebugHandler serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/, for the private DEBUG_ADDR listener only: the site's
// own router never routes to them.
func DebugHandler() http.Handler { return opsserver.Debug() }
