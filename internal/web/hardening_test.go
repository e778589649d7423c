package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// TestStaticFilesAnswerOnlyGetAndHead: /static/ serves GET and HEAD; any
// other method is a 405 naming them.
func TestStaticFilesAnswerOnlyGetAndHead(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.do(httptest.NewRequest(http.MethodHead, "/static/css/app.css", nil)).status(200)
	for _, method := range []string{http.MethodPut, http.MethodDelete, http.MethodPost, "TRACE", http.MethodOptions, http.MethodPatch} {
		r := s.do(httptest.NewRequest(method, "/static/css/app.css", nil)).status(405)
		if allow := r.rec.Header().Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, method) {
			t.Errorf("%s: Allow = %q", method, allow)
		}
	}
}

// serve runs the site on a loopback listener, as cmd/web does, until the
// test ends, and returns its base URL.
func (s *site) serve() string {
	s.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, ln, s.handler, 5*time.Second, s.app.Logger) }()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestOversizedHeadersAre431: request headers are capped near what
// proxies allow (64 KiB), not Go's default of 1 MiB.
func TestOversizedHeadersAre431(t *testing.T) {
	t.Parallel()
	base := newSite(t, nil).serve()
	for _, tt := range []struct {
		size   int
		status int
	}{{32 << 10, 200}, {256 << 10, 431}} {
		req, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", tt.size))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%d KiB of headers: %v", tt.size>>10, err)
		}
		_ = res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("%d KiB of headers: status %d, want %d", tt.size>>10, res.StatusCode, tt.status)
		}
	}
}

// TestReadyzAnswersWithinTwoSecondsWhenRedisHangs: the readiness probe
// keeps its documented deadline when Redis accepts connections but never
// answers (a probe that hangs makes the orchestrator's own timeout, not
// ours, decide).
func TestReadyzAnswersWithinTwoSecondsWhenRedisHangs(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the 2 s readiness deadline: not in -short")
	}
	s := newSite(t, nil)
	live := s.app.Redis
	t.Cleanup(func() { _ = live.Close() })
	s.app.Redis = redis.NewClient(&redis.Options{Addr: testenv.SilentListener(t)}) // a Redis that stopped answering
	h, err := web.New(s.app)                                                       // the site as built on the hung Redis
	if err != nil {
		t.Fatal(err)
	}
	s.handler = h
	start := time.Now()
	s.get("/readyz").status(503).contains(`"redis":{"status":"down"`, `"database":{"status":"ok"`)
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Errorf("/readyz took %s with Redis hung, want about 2s", took.Round(time.Millisecond))
	}
}

// TestNULBytesAreRefusedNot500: a NUL byte (which PostgreSQL cannot store
// or compare) or invalid UTF-8 in any field is a clear 400, on every
// database, in forms and in JSON.
func TestNULBytesAreRefusedNot500(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			s := newSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			admin := s.signedIn("admin@example.com", "admin")
			for _, bad := range []string{"a\x00@example.com", "\xff\xfe@example.com"} {
				s.visitor().post("/user/sign-in", "email", bad, "password", "long enough pw").status(400)
				s.visitor().post("/user/forgot-password", "email", bad).status(400)
				s.visitor().post("/user/register", "email", bad, "password", "long enough pw", "retype_password", "long enough pw").status(400)
				admin.post("/admin/users/new", "email", "n@example.com", "name", bad, "password", "long enough pw", "retype_password", "long enough pw").status(400)
				admin.post("/admin/users/new", "email", "n@example.com", "roles", bad, "password", "long enough pw", "retype_password", "long enough pw").status(400)
				admin.post("/user/profile", "name", bad).status(400)
				r := httptest.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(`{"email":"a\u0000@example.com","password":"long enough pw"}`))
				r.Header.Set("Content-Type", "application/json")
				s.do(r).status(400)
			}
		})
	}
}

// TestMetricsArePrivateInProduction: in production /metrics on the site's
// address needs METRICS_TOKEN (without one it is not served there at
// all), and with METRICS_ADDR it is served only on that listener.
func TestMetricsArePrivateInProduction(t *testing.T) {
	t.Parallel()
	prod := map[string]string{"ENV": "production", "SECRET_KEY": strings.Repeat("k", 40), "ALLOW_SQLITE_IN_PRODUCTION": "true",
		"AUTO_MIGRATE": "true", "REDIS_URL": "redis://" + miniredis.RunT(t).Addr()}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range prod {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	newSite(t, with(nil)).get("/metrics").status(404)
	s := newSite(t, with(map[string]string{"METRICS_TOKEN": "metrics-token-123456"}))
	s.get("/metrics").status(401)
	s.get("/metrics", "Authorization", "Bearer metrics-token-123456").status(200)

	s = newSite(t, with(map[string]string{"METRICS_ADDR": "127.0.0.1:0", "METRICS_TOKEN": "metrics-token-123456"}))
	s.get("/metrics", "Authorization", "Bearer metrics-token-123456").status(404)
	rec := httptest.NewRecorder()
	web.MetricsHandler(s.app).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "go_goroutines") {
		t.Errorf("the METRICS_ADDR handler answered %d:\n%.300s", rec.Code, rec.Body.String())
	}
	// In development it stays open, as before.
	newSite(t, nil).get("/metrics").status(200)
}

// TestOutOfRangeIDsAreNotFound: an ID past what the databases' BIGINT
// holds is a 404, not a 500 (PostgreSQL refused to encode it).
func TestOutOfRangeIDsAreNotFound(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			s := newSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			dev := s.signedIn("dev@example.com", "admin")
			for _, id := range []string{"9223372036854775808", "18446744073709551615"} {
				dev.post("/user/apikeys/" + id + "/delete").status(http.StatusNotFound)
				dev.get("/admin/users/" + id + "/edit").status(http.StatusNotFound)
			}
		})
	}
}

// TestErrorsAreMailedToAdmins: with EMAIL_ERRORS and ADMINS, a panic in
// a request is mailed to the admins through the outbox and the mail task
// — the route, the request ID, the error, never a secret — and three of
// the same are one mail; without EMAIL_ERRORS nothing is mailed.
func TestErrorsAreMailedToAdmins(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"EMAIL_ERRORS": "true", "ADMINS": "ops@example.com"}, web.WithExtraRoutes(panicRoute))
	for i := range 3 {
		s.get("/boom", "X-Request-ID", fmt.Sprintf("req-%08d", i)).status(500)
	}
	got := s.subjects("ops@example.com")
	if len(got) != 1 || !strings.Contains(got[0], "error in GET /boom") {
		t.Fatalf("mail to the admins: %q, want one about GET /boom", got)
	}
	for _, m := range s.mails() {
		if !strings.Contains(m.Text, "req-00000000") || !strings.Contains(m.Text, "panic:") {
			t.Errorf("the mail lacks the request ID or the error:\n%s", m.Text)
		}
		if key := s.app.Config.SecretKey; strings.Contains(m.Text, key) {
			t.Error("the mail holds the SECRET_KEY")
		}
	}

	quiet := newSite(t, map[string]string{"ADMINS": "ops@example.com"}, web.WithExtraRoutes(panicRoute))
	quiet.get("/boom").status(500)
	if got := quiet.subjects("ops@example.com"); len(got) != 0 {
		t.Errorf("with EMAIL_ERRORS off the admins got %q", got)
	}
}
