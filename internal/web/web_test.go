package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/redisconn"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// site is a running Launchkit handler on a fresh SQLite database and an
// embedded Redis, with everything it logged.
type site struct {
	t       *testing.T
	app     *app.App
	handler http.Handler
	logs    *testenv.Buffer
	// local, when set, sends the requests that leave httptest's example
	// peer and host as they are from this machine to localhost, as a
	// developer's browser does.
	local bool
}

// newSite builds the app from env (on top of test defaults) and its routes.
func newSite(t *testing.T, env map[string]string, opts ...web.Option) *site {
	t.Helper()
	a, logs := testenv.NewApp(t, env)
	h, err := web.New(a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, app: a, handler: h, logs: logs}
}

// devSite is the site as `make run` serves it: ENV=development, mail to
// the outbox directory, visited from this machine.
func devSite(t *testing.T, env map[string]string) *site {
	t.Helper()
	vars := map[string]string{"ENV": "development"}
	for k, v := range env {
		vars[k] = v
	}
	s := newSite(t, vars)
	s.local = true
	return s
}

// prodSite is the site in production, its mail still going to the
// outbox directory (MAIL_SERVER empty) and LOG_LEVEL=debug.
func prodSite(t *testing.T) *site {
	t.Helper()
	return newSite(t, map[string]string{
		"ENV": "production", "SECRET_KEY": strings.Repeat("k", 40), "ALLOW_SQLITE_IN_PRODUCTION": "true",
		"AUTO_MIGRATE": "true", "REDIS_URL": "redis://" + miniredis.RunT(t).Addr(),
	})
}

// response is one answer of the site, with fluent assertions.
type response struct {
	t    *testing.T
	rec  *httptest.ResponseRecorder
	body string
}

func (s *site) do(r *http.Request) *response {
	s.t.Helper()
	if s.local && r.RemoteAddr == "192.0.2.1:1234" && r.Host == "example.com" {
		r.RemoteAddr, r.Host = "127.0.0.1:50000", "localhost:8000"
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, r)
	return &response{t: s.t, rec: rec, body: rec.Body.String()}
}

// mailOne has the app write one message (subject "Hi", a link to
// https://example.com/x) and returns its file name in the outbox, the
// ID the mail viewer's paths take.
func (s *site) mailOne() string {
	s.t.Helper()
	if err := s.app.Mailer.Send(context.Background(), mail.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "https://example.com/x"}); err != nil {
		s.t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(s.app.Config.MailOutboxDir, "*.eml"))
	if len(files) != 1 {
		s.t.Fatalf("outbox files %q", files)
	}
	return filepath.Base(files[0])
}

func (s *site) get(path string, headers ...string) *response {
	s.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return s.do(r)
}

func (r *response) status(want int) *response {
	r.t.Helper()
	if r.rec.Code != want {
		r.t.Fatalf("status = %d, want %d; body:\n%s", r.rec.Code, want, r.body)
	}
	return r
}

func (r *response) contains(parts ...string) *response {
	r.t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.body, p) {
			r.t.Errorf("body lacks %q:\n%s", p, r.body)
		}
	}
	return r
}

func (r *response) lacks(parts ...string) *response {
	r.t.Helper()
	for _, p := range parts {
		if strings.Contains(r.body, p) {
			r.t.Errorf("body should not contain %q:\n%s", p, r.body)
		}
	}
	return r
}

func (r *response) header(name, want string) *response {
	r.t.Helper()
	if got := r.rec.Header().Get(name); got != want {
		r.t.Errorf("header %s = %q, want %q", name, got, want)
	}
	return r
}

func (r *response) headerPrefix(name, want string) *response {
	r.t.Helper()
	if got := r.rec.Header().Get(name); !strings.HasPrefix(got, want) {
		r.t.Errorf("header %s = %q, want prefix %q", name, got, want)
	}
	return r
}

// jsonError decodes the SPEC's JSON error body.
func (r *response) jsonError() (status int, message string) {
	r.t.Helper()
	r.headerPrefix("Content-Type", "application/json")
	var body struct {
		Error struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		r.t.Fatalf("body is not the JSON error shape: %v\n%s", err, r.body)
	}
	return body.Error.Status, body.Error.Message
}

func TestHomeShowsTheAppName(t *testing.T) {
	t.Parallel()
	newSite(t, map[string]string{"APP_NAME": "Acme Widgets"}).get("/").
		status(200).headerPrefix("Content-Type", "text/html").
		contains("<title>Acme Widgets</title>", "<h1>Acme Widgets</h1>", `/static/css/app.css`)
}

func TestProbes(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.get("/healthz").status(200).contains("ok")
	r := s.get("/readyz").status(200).headerPrefix("Content-Type", "application/json")
	var body struct {
		Status string
		Checks map[string]struct{ Status string }
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "ok" || body.Checks["database"].Status != "ok" || body.Checks["redis"].Status != "ok" {
		t.Errorf("readyz = %s", r.body)
	}
}

func TestReadyzIs503WhenADependencyIsDown(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		s := newSite(t, nil)
		_ = s.app.Redis.Close()
		s.get("/readyz").status(503).contains(`"redis":{"status":"down"`, `"database":{"status":"ok"`, `"status":"unavailable"`)
		if !strings.Contains(s.logs.String(), "readiness check failed") {
			t.Error("the cause of the failed check was not logged")
		}
	})
	t.Run("database", func(t *testing.T) {
		s := newSite(t, nil)
		_ = s.app.DB.Close()
		s.get("/readyz").status(503).contains(`"database":{"status":"down"`, `"redis":{"status":"ok"`)
	})
}

func TestUnknownPageIsA404InTheLayout(t *testing.T) {
	t.Parallel()
	newSite(t, map[string]string{"APP_NAME": "Acme"}).get("/no-such-page").
		status(404).headerPrefix("Content-Type", "text/html").
		contains("<!doctype html>", `<body class="public" hx-boost="true">`, `<span class="brand-name">Acme</span>`, "404", "Not Found", "There is no page at this address.")
}

func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	status, msg := s.get("/api/v1/no-such").status(404).jsonError()
	if status != 404 || msg == "" {
		t.Errorf("JSON error = %d %q", status, msg)
	}
	// Outside /api/, a client that asks for JSON gets JSON too.
	status, _ = s.get("/no-such-page", "Accept", "application/json").status(404).jsonError()
	if status != 404 {
		t.Errorf("status in body = %d", status)
	}
	// A browser's Accept header gets HTML.
	s.get("/no-such-page", "Accept", "text/html,application/xhtml+xml,application/json;q=0.9").status(404).contains("<!doctype html>")
}

func TestWrongMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.do(httptest.NewRequest(http.MethodPost, "/healthz", nil)).status(405).header("Allow", "GET").contains("405", "Method Not Allowed")
	s.do(httptest.NewRequest(http.MethodDelete, "/", nil)).status(405).contains("<!doctype html>")
	// HEAD is answered wherever GET is, as probes and link checkers expect.
	s.do(httptest.NewRequest(http.MethodHead, "/healthz", nil)).status(200)
}

func panicRoute(r chi.Router) {
	r.Get("/boom", func(http.ResponseWriter, *http.Request) { panic("kaboom: the widget exploded") })
	r.Get("/api/v1/boom", func(http.ResponseWriter, *http.Request) { panic("api kaboom") })
}

func TestPanicIsA500PageWithTheRequestID(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil, web.WithExtraRoutes(panicRoute))
	s.get("/boom", "X-Request-ID", "req-12345678").status(500).
		header("X-Request-ID", "req-12345678").
		contains("500", "Something went wrong", "Request ID: req-12345678").
		lacks("kaboom", "goroutine", ".go:")
	logs := s.logs.String()
	for _, want := range []string{"msg=panic", "kaboom: the widget exploded", "request_id=req-12345678", "runtime/debug.Stack"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	status, _ := s.get("/api/v1/boom").status(500).jsonError()
	if status != 500 {
		t.Errorf("JSON status = %d", status)
	}
}

func TestPanicDetailIsShownOnlyInDevelopment(t *testing.T) {
	t.Parallel()
	dev := newSite(t, map[string]string{"ENV": "development"}, web.WithExtraRoutes(panicRoute))
	dev.get("/boom").status(500).contains("kaboom: the widget exploded", "goroutine")

	redis, err := redisconn.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(redis.Close)
	prod := newSite(t, map[string]string{
		"ENV": "production", "SECRET_KEY": strings.Repeat("k", 32), "REDIS_URL": redis.URL(),
		"ALLOW_SQLITE_IN_PRODUCTION": "true",
	}, web.WithExtraRoutes(panicRoute))
	prod.get("/boom").status(500).contains("Request ID:").lacks("kaboom", "goroutine", ".go:")
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	got := s.get("/healthz", "X-Request-ID", "client-id-0001").rec.Header().Get("X-Request-ID")
	if got != "client-id-0001" {
		t.Errorf("a well-formed client ID must be kept, got %q", got)
	}
	for _, bad := range []string{"short", "has spaces in it", "new\nline-injected", strings.Repeat("x", 65)} {
		got := s.get("/healthz", "X-Request-ID", bad).rec.Header().Get("X-Request-ID")
		if got == bad || len(got) != 32 {
			t.Errorf("client ID %q: response ID = %q, want a fresh 32-char one", bad, got)
		}
	}
	if a, b := s.get("/healthz").rec.Header().Get("X-Request-ID"), s.get("/healthz").rec.Header().Get("X-Request-ID"); a == b {
		t.Errorf("two requests got the same ID %q", a)
	}
	if !strings.Contains(s.logs.String(), "request_id=client-id-0001") {
		t.Errorf("request log line lacks the request ID:\n%s", s.logs.String())
	}
}

func TestAnonymousBrowsingCreatesNoSession(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, path := range []string{"/", "/no-such-page", "/healthz"} {
		if c := s.get(path).rec.Header().Values("Set-Cookie"); len(c) > 0 {
			t.Errorf("GET %s set cookies %v", path, c)
		}
	}
	var n int64
	if err := s.app.DB.Gorm.Raw("SELECT count(*) FROM sessions").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("sessions table has %d rows after anonymous browsing", n)
	}
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.get("/static/css/app.css").status(200).headerPrefix("Content-Type", "text/css").contains(".flash")
	s.get("/static/icons.svg").status(200).header("Content-Type", "image/svg+xml").contains(`<symbol id="i-home"`)
	s.get("/static/js/app.js").status(200).headerPrefix("Content-Type", "text/javascript")
	s.get("/static/tokens.go").status(404)
	s.get("/static/css/").status(404).contains("<!doctype html>")
	s.get("/static/embed.go").status(404)
	s.get("/static/nope.css").status(404)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	newSite(t, nil).get("/").status(200).
		header("X-Content-Type-Options", "nosniff").
		header("X-Frame-Options", "DENY").
		headerPrefix("Content-Security-Policy", "default-src 'self'")
}

func TestAPanicQuotingASecretIsScrubbed(t *testing.T) {
	t.Parallel()
	const secret = "mail-pw-0b5e7d21"
	s := newSite(t, map[string]string{"ENV": "development", "MAIL_PASSWORD": secret}, web.WithExtraRoutes(func(r chi.Router) {
		r.Get("/leak", func(http.ResponseWriter, *http.Request) { panic("smtp login failed with " + secret) })
	}))
	s.get("/leak").status(500).contains("smtp login failed with [redacted]").lacks(secret)
	if logs := s.logs.String(); strings.Contains(logs, secret) || !strings.Contains(logs, "[redacted]") {
		t.Errorf("the panic log line must be scrubbed:\n%s", logs)
	}
}

func TestCrossSiteFormPostsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"TRUSTED_ORIGINS": "https://partner.example"}, web.WithExtraRoutes(func(r chi.Router) {
		r.Post("/form", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("accepted")) })
	}))
	post := func(headers ...string) *response {
		r := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("a=1"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return s.do(r)
	}
	post("Sec-Fetch-Site", "same-origin").status(200).contains("accepted")
	post().status(200) // not a browser: no CSRF risk
	post("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").status(403).contains("<!doctype html>", "Cross-site request refused.")
	post("Origin", "https://evil.example").status(403)
	post("Sec-Fetch-Site", "cross-site", "Origin", "https://partner.example").status(200)
}

func TestDevelopmentReadsTemplatesFromDiskOnEachRequest(t *testing.T) {
	// Not parallel: it changes the working directory.
	work := t.TempDir()
	for _, dir := range []string{"templates", "static"} {
		if err := os.CopyFS(filepath.Join(work, dir), os.DirFS(filepath.Join("../..", dir))); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(work)

	s := newSite(t, map[string]string{"ENV": "development"})
	s.get("/").status(200).lacks("Edited while running")
	page := filepath.Join(work, "templates", "pages", "home.html")
	b, _ := os.ReadFile(page)
	if err := os.WriteFile(page, bytes.Replace(b, []byte("<h1>"), []byte("<p>Edited while running</p><h1>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	s.get("/").status(200).contains("Edited while running")

	// Outside development the embedded templates are used, even here.
	newSite(t, map[string]string{"ENV": "test"}).get("/").status(200).lacks("Edited while running")
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.get("/")
	s.get("/")
	s.get("/no-such-page-1")
	s.get("/no-such-page-2")
	s.get("/metrics").status(200).contains(
		`launchkit_http_requests_total{method="GET",route="/",status="200"} 2`,
		`launchkit_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`launchkit_http_request_duration_seconds_bucket{method="GET",route="/",le="+Inf"} 2`,
		"go_goroutines", "process_resident_memory_bytes",
	).lacks("no-such-page")
}

func TestMetricsTokenGuardsTheEndpoint(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"METRICS_TOKEN": "metrics-token-123456"})
	s.get("/metrics").status(401).header("WWW-Authenticate", `Bearer realm="metrics"`)
	s.get("/metrics", "Authorization", "Bearer wrong").status(401)
	s.get("/metrics", "Authorization", "Bearer metrics-token-123456").status(200).contains("launchkit_http_requests_total")
}

func TestOddPathsNeverCauseA500(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for _, path := range []string{
		"/static/../go.mod", "/static/%2e%2e/%2e%2e/go.mod", "/static//css/app.css", "/static/css/../embed.go",
		"/%00", "/%ff%fe", "/" + strings.Repeat("a", 8000), "/api/v1/%zz", "/api", "/static",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.Path, r.URL.RawPath = path, ""
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, r)
		if rec.Code >= 500 {
			t.Errorf("GET %q = %d", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "module github.com") || strings.Contains(rec.Body.String(), "package static") {
			t.Errorf("GET %q served a file outside static/", path)
		}
	}
}
