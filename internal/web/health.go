package web

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// healthz is the liveness probe: the process is up and serving.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

type check struct {
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
}

// readyz is the readiness probe: 200 when the database and Redis answer
// within two seconds, else 503. The JSON says which one failed; the cause
// goes to the log, not to the (public) response.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]check{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, ping := range map[string]func(context.Context) error{
		"database": s.app.DB.Ping,
		"redis":    func(ctx context.Context) error { return s.app.Redis.Ping(ctx).Err() },
	} {
		wg.Go(func() {
			start := time.Now()
			err := ping(ctx)
			c := check{Status: "ok", LatencyMS: time.Since(start).Milliseconds()}
			if err != nil {
				c.Status = "down"
				s.logger.WarnContext(r.Context(), "readiness check failed", "check", name, "err", err)
			}
			mu.Lock()
			checks[name] = c
			mu.Unlock()
		})
	}
	wg.Wait()

	status, overall := http.StatusOK, "ok"
	for _, c := range checks {
		if c.Status != "ok" {
			status, overall = http.StatusServiceUnavailable, "unavailable"
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": overall, "checks": checks})
}
