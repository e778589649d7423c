package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

// leakyRoute panics quoting what its request brought — the password in
// its query, its session cookie, its bearer token, its API key header —
// and the SECRET_KEY, as careless code might when it fails.
func leakyRoute(secretKey string) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/orders/{id}/boom", func(_ http.ResponseWriter, r *http.Request) {
			session, _ := r.Cookie("session")
			panic(fmt.Sprintf("order %s: charge failed: password=%s\nCookie: session=%s\nAuthorization: %s\nX-Api-Key: %s\nsigned with %s",
				chi.URLParam(r, "id"), r.URL.Query().Get("password"), session.Value,
				r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"), secretKey))
		})
	}
}

// TestAPanicIsReportedToTheTrackerScrubbed: a panic in a signed-in
// user's request reaches the error tracker with the exception, the
// request ID, the route pattern, the user's ID, the environment — and
// none of the password, session cookie, bearer token, API key or
// SECRET_KEY the panic quoted, anywhere in what was sent; the admins'
// error mail goes out too.
func TestAPanicIsReportedToTheTrackerScrubbed(t *testing.T) {
	t.Parallel()
	tracker := testenv.StartSentryServer(t)
	const secretKey = "the-secret-key-of-this-test-0123456789"
	s := newSite(t, map[string]string{"SENTRY_DSN": tracker.DSN(), "SECRET_KEY": secretKey, "EMAIL_ERRORS": "true", "ADMINS": "ops@example.com"},
		web.WithExtraRoutes(leakyRoute(secretKey)))
	v := s.signedIn("ada@example.com")
	const password, bearer, apiKey = "hunter2-horse-battery", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "lk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG"
	v.header = http.Header{"X-Request-Id": {"req-panic-0001"}, "Authorization": {"Bearer " + bearer}, "X-Api-Key": {apiKey}}
	v.get("/orders/7/boom?password=" + password).status(500).contains("Request ID: req-panic-0001")
	cookie := v.cookies["session"].Value

	e := tracker.WaitForEvents(t, 1, 10*time.Second)[0]
	if len(e.Exceptions) != 1 || e.Exceptions[0].Type != "panic" || !strings.Contains(e.Exceptions[0].Value, "order 7: charge failed: password=[redacted]") {
		t.Errorf("exceptions %+v", e.Exceptions)
	}
	userID := strconv.FormatUint(uint64(s.user("ada@example.com").ID), 10)
	for k, want := range map[string]string{"request_id": "req-panic-0001", "route": "GET /orders/{id}/boom", "kind": "request"} {
		if e.Tags[k] != want {
			t.Errorf("tag %s = %q, want %q", k, e.Tags[k], want)
		}
	}
	if e.User.ID != userID || e.Environment != "test" || e.Level != "fatal" || e.Transaction != "GET /orders/{id}/boom" {
		t.Errorf("user %q (want %s) environment %q level %q transaction %q", e.User.ID, userID, e.Environment, e.Level, e.Transaction)
	}
	if release := telemetry.Release(); e.Release != release {
		t.Errorf("release %q, want the build's %q", e.Release, release)
	}
	raw := tracker.Raw()
	for name, secret := range map[string]string{"password": password, "session cookie": cookie, "bearer token": bearer, "API key": apiKey, "SECRET_KEY": secretKey, "the path": "/orders/7/boom"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the report holds the %s %q:\n%s", name, secret, raw)
		}
	}
	if got := s.subjects("ops@example.com"); len(got) != 1 || !strings.Contains(got[0], "error in GET /orders/{id}/boom") {
		t.Errorf("the admins' mail: %q", got)
	}
}

// TestA500IsReportedToTheTracker: a request answered 500 by serverError
// (here the security log's table is gone) is reported, with the error,
// the signed-in user and the route; a 404 is not.
func TestA500IsReportedToTheTracker(t *testing.T) {
	t.Parallel()
	tracker := testenv.StartSentryServer(t)
	s := newSite(t, map[string]string{"SENTRY_DSN": tracker.DSN()})
	v := s.signedIn("ada@example.com")
	v.get("/no/such/page").status(404)
	if err := s.app.DB.Gorm.Exec("DROP TABLE security_events").Error; err != nil {
		t.Fatal(err)
	}
	v.get("/user/security").status(500)

	e := tracker.WaitForEvents(t, 1, 10*time.Second)[0]
	if x := e.Exceptions; len(x) == 0 || !strings.Contains(x[len(x)-1].Value, "security_events") {
		t.Errorf("exceptions %+v, want the database's error", x)
	}
	if e.Tags["route"] != "GET /user/security" || e.Level != "error" || e.User.ID != strconv.FormatUint(uint64(s.user("ada@example.com").ID), 10) || e.Tags["request_id"] == "" {
		t.Errorf("tags %v level %q user %q", e.Tags, e.Level, e.User.ID)
	}
	if !s.app.Reports.Flush(5 * time.Second) {
		t.Fatal("reports still queued after 5s")
	}
	if n := len(tracker.Events()); n != 1 {
		t.Errorf("%d reports, want only the 500's", n)
	}
}

// newTracedSite is newSite with tracing on, into an in-memory exporter
// (testenv.NewTracedApp), everything sampled. Tracing is the process's:
// a test using it must not be parallel.
func newTracedSite(t *testing.T, env map[string]string, opts ...web.Option) (*site, func() tracetest.SpanStubs) {
	t.Helper()
	a, logs, exp := testenv.NewTracedApp(t, env)
	h, err := web.New(a, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, app: a, handler: h, logs: logs}, func() tracetest.SpanStubs { return testenv.Spans(t, a, exp) }
}

var traceIDText = regexp.MustCompile(`Trace ID: ([0-9a-f]{32})`)

// TestErrorPagesShowTheTraceIDWhenTraced: with tracing on, a 5xx page
// shows the request's trace ID beside its request ID, the JSON error
// carries it as trace_id, and the error report carries the same trace:
// each the trace of the request's span. With tracing off none of them
// mentions a trace.
func TestErrorPagesShowTheTraceIDWhenTraced(t *testing.T) {
	// Not parallel: tracing is the process's (newTracedSite).
	tracker := testenv.StartSentryServer(t)
	s, spans := newTracedSite(t, map[string]string{"SENTRY_DSN": tracker.DSN()}, web.WithExtraRoutes(panicRoute))
	page := s.get("/boom", "X-Request-ID", "req-traced-01").status(500).contains("Request ID: req-traced-01 · Trace ID: ")
	m := traceIDText.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no trace ID on the page:\n%s", page.body)
	}
	pageTrace := m[1]
	var body struct {
		Error struct {
			RequestID string `json:"request_id"`
			TraceID   string `json:"trace_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(s.get("/api/v1/boom").status(500).body), &body); err != nil || len(body.Error.TraceID) != 32 || body.Error.RequestID == "" {
		t.Fatalf("JSON error %+v (%v), want request_id and trace_id", body, err)
	}
	traces := map[string]string{} // span name → trace ID
	for _, span := range spans() {
		traces[span.Name] = span.SpanContext.TraceID().String()
	}
	if traces["GET /boom"] != pageTrace || traces["GET /api/v1/boom"] != body.Error.TraceID {
		t.Errorf("page trace %s, JSON trace %s; the requests' spans: %v", pageTrace, body.Error.TraceID, traces)
	}
	reported := map[string]bool{}
	for _, e := range tracker.WaitForEvents(t, 2, 10*time.Second) {
		if e.Tags["trace_id"] != e.Contexts["trace"]["trace_id"] {
			t.Errorf("the report's trace tag %q and context %v differ", e.Tags["trace_id"], e.Contexts["trace"]["trace_id"])
		}
		reported[e.Tags["trace_id"]] = true
	}
	if !reported[pageTrace] || !reported[body.Error.TraceID] {
		t.Errorf("reported traces %v, want %s and %s", reported, pageTrace, body.Error.TraceID)
	}

	off := newSite(t, nil, web.WithExtraRoutes(panicRoute))
	off.get("/boom").status(500).contains("Request ID: ").lacks("Trace ID")
	off.get("/api/v1/boom").status(500).contains(`"request_id"`).lacks("trace_id")
}
