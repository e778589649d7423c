package errreport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/errreport"
	"github.com/launchkit/launchkit/internal/testenv"
)

// The secrets a careless error text could quote, each of a kind the
// scrubbing must catch: a configured secret value (found by value), and
// credentials found by their shape.
const (
	secretKey   = "configured-secret-key-0123456789abcdef" // SECRET_KEY's value
	password    = "hunter2-correct-horse"
	cookieValue = "c2Vzc2lvbi1jb29raWUtdmFsdWUtOTk5"
	bearer      = "eyJhbGciOiJIUzI1NiJ9.payload.signature"
	apiKey      = "lk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCDEFG"
	resetToken  = "reset-token-7f3a9c1e5b"
)

var secrets = []string{secretKey, password, cookieValue, bearer, apiKey, resetToken}

// leakyText quotes every secret above, the way a wrapped error quoting a
// request or a config dump would, each on a line of its own so that
// every rule is put to work (a Cookie header hides the rest of its line).
var leakyText = fmt.Sprintf("sign-in failed for ada: password=%s\n"+
	"GET /user/reset-password/%s HTTP/1.1\nAuthorization: Bearer %s\nX-Api-Key: %s\nCookie: session=%s\n"+
	"signed with %s; session=%s; api key %s",
	password, resetToken, bearer, apiKey, cookieValue, secretKey, cookieValue, apiKey)

func newReporter(t *testing.T, server *testenv.SentryServer) *errreport.Reporter {
	t.Helper()
	r, err := errreport.New(errreport.Options{
		DSN: server.DSN(), Environment: "test", Release: "abc123def456",
		Scrub:       func(s string) string { return config.ScrubAll(s, []string{secretKey}) },
		SecretNames: []string{"session"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// explode panics with the leaky text: the report's stack must show it.
func explode() { panic(leakyText) }

// recovering runs f and reports its panic as recoverPanic does.
func recovering(r *errreport.Reporter, ctx context.Context, info errreport.Info, f func()) {
	defer func() {
		if v := recover(); v != nil {
			r.Panic(ctx, v, info)
		}
	}()
	f()
}

// assertNoSecrets fails when any secret is anywhere in what the server
// received: the raw envelopes, every header and field.
func assertNoSecrets(t *testing.T, server *testenv.SentryServer) {
	t.Helper()
	raw := server.Raw()
	for _, s := range secrets {
		if strings.Contains(raw, s) {
			t.Errorf("the report holds the secret %q:\n%s", s, raw)
		}
	}
}

// TestPanicIsReportedScrubbed: a panic whose text holds a password, a
// session cookie, a bearer token, an API key, the SECRET_KEY and a reset
// token reaches the tracker as an unhandled exception with its stack,
// the request ID, route, user, environment and release — and none of
// the secrets, anywhere in the envelope.
func TestPanicIsReportedScrubbed(t *testing.T) {
	t.Parallel()
	server := testenv.StartSentryServer(t)
	r := newReporter(t, server)
	info := errreport.Info{Kind: "request", ID: "req-0123456789", Where: "GET /boom/{id}", UserID: "42"}
	recovering(r, context.Background(), info, explode)
	if !r.Flush(5 * time.Second) {
		t.Fatal("the report was not sent within 5s")
	}

	events := server.WaitForEvents(t, 1, 5*time.Second)
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	e := events[0]
	if len(e.Exceptions) != 1 {
		t.Fatalf("exceptions %+v, want one", e.Exceptions)
	}
	x := e.Exceptions[0]
	if x.Type != "panic" || !strings.Contains(x.Value, "sign-in failed for ada: password=[redacted]") {
		t.Errorf("exception %s: %q", x.Type, x.Value)
	}
	if x.Mechanism == nil || x.Mechanism.Handled == nil || *x.Mechanism.Handled {
		t.Errorf("a panic should be reported unhandled: %+v", x.Mechanism)
	}
	funcs := x.Functions()
	if !slices.ContainsFunc(funcs, func(f string) bool { return strings.HasSuffix(f, "errreport_test.explode") }) {
		t.Errorf("the stack lacks the function that panicked: %q", funcs)
	}
	if slices.ContainsFunc(funcs, func(f string) bool { return strings.HasPrefix(f, "github.com/launchkit/launchkit/internal/errreport.") }) {
		t.Errorf("the stack holds the reporter's own frames: %q", funcs)
	}
	if e.Level != "fatal" || e.Environment != "test" || e.Release != "abc123def456" || e.Transaction != "GET /boom/{id}" || e.User.ID != "42" {
		t.Errorf("level %q environment %q release %q transaction %q user %q", e.Level, e.Environment, e.Release, e.Transaction, e.User.ID)
	}
	want := map[string]string{"kind": "request", "request_id": "req-0123456789", "route": "GET /boom/{id}"}
	for k, v := range want {
		if e.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, e.Tags[k], v, e.Tags)
		}
	}
	if _, ok := e.Tags["trace_id"]; ok {
		t.Errorf("a trace_id tag without tracing: %v", e.Tags)
	}
	if len(e.Request) > 0 || e.User.IPAddress != "" || e.User.Email != "" {
		t.Errorf("the report carries the request or more of the user: request %s user %+v", e.Request, e.User)
	}
	assertNoSecrets(t, server)
}

// TestTaskErrorCarriesItsTrace: an error reported in a traced context
// (a task continuing the trace of the request that queued it) carries
// that trace's ID, as a tag and as the event's trace context, with the
// task's type and ID.
func TestTaskErrorCarriesItsTrace(t *testing.T) {
	t.Parallel()
	server := testenv.StartSentryServer(t)
	r := newReporter(t, server)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "task mail:send")
	traceID := span.SpanContext().TraceID().String()
	r.Error(ctx, fmt.Errorf("send mail: %w", errors.New("smtp: 535 auth failed for password="+password)),
		errreport.Info{Kind: "task", ID: "task-77", Where: "mail:send"})
	span.End()
	r.Flush(5 * time.Second)

	e := server.WaitForEvents(t, 1, 5*time.Second)[0]
	for k, v := range map[string]string{"kind": "task", "task_id": "task-77", "task_type": "mail:send", "trace_id": traceID} {
		if e.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, e.Tags[k], v)
		}
	}
	if got := e.Contexts["trace"]["trace_id"]; got != traceID {
		t.Errorf("trace context's trace_id = %v, want %s", got, traceID)
	}
	if e.Level != "error" || len(e.Exceptions) == 0 || !strings.Contains(e.Exceptions[len(e.Exceptions)-1].Value, "send mail: smtp: 535") {
		t.Errorf("level %q exceptions %+v", e.Level, e.Exceptions)
	}
	assertNoSecrets(t, server)
}

// TestReportsDoNotWaitForTheTracker: a report is queued, not sent in the
// caller's time: against a tracker that takes seconds to answer, making
// one returns at once, and Close gives up at its bound.
func TestReportsDoNotWaitForTheTracker(t *testing.T) {
	t.Parallel()
	slow := testenv.SilentListener(t) // accepts, never answers
	r, err := errreport.New(errreport.Options{DSN: "http://publickey@" + slow + "/1", Environment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 20 {
		r.Error(context.Background(), errors.New("boom"), errreport.Info{Kind: "request", ID: "r", Where: "GET /"})
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("20 reports took %s against a tracker that does not answer", took)
	}
	start = time.Now()
	if r.CloseWithin(300 * time.Millisecond) {
		t.Error("Close says the reports were sent to a tracker that never answered")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Close took %s, bound 300ms", took)
	}
}

// TestNoDSNNoReporter: without SENTRY_DSN there is no reporter, and a nil
// one takes reports and closes without doing anything.
func TestNoDSNNoReporter(t *testing.T) {
	t.Parallel()
	r, err := errreport.New(errreport.Options{Environment: "test"})
	if r != nil || err != nil {
		t.Fatalf("New without a DSN = %v, %v; want nil, nil", r, err)
	}
	r.Error(context.Background(), errors.New("boom"), errreport.Info{})
	r.Panic(context.Background(), "boom", errreport.Info{})
	r.Close()
}

// TestADSNTheSDKRefusesIsAnErrorThatDoesNotQuoteIt: errreport.New names
// the key and the expected shape, never the value.
func TestADSNTheSDKRefusesIsAnErrorThatDoesNotQuoteIt(t *testing.T) {
	t.Parallel()
	_, err := errreport.New(errreport.Options{DSN: "https://sentry.example.com/1"})
	if err == nil || !strings.Contains(err.Error(), "SENTRY_DSN") || strings.Contains(err.Error(), "sentry.example.com") {
		t.Errorf("err = %v", err)
	}
}
