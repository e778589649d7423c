package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/alexedwards/argon2id"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/telemetry"
)

// NewApp builds the app container as the web process does, on a fresh
// SQLite database and an embedded Redis, with ENV=test and env on top.
// It returns the app and everything it logs; it is closed at the end.
func NewApp(t testing.TB, env map[string]string) (*app.App, *Buffer) {
	t.Helper()
	return newApp(t, env, app.Options{Migrate: true, EmbeddedRedis: true})
}

// NewTracedApp is NewApp with tracing on, into the returned in-memory
// exporter (read it with Spans). It sets otel's global provider and
// propagator, as a process does, and puts the old ones back at the end:
// the test cannot be parallel.
func NewTracedApp(t testing.TB, env map[string]string) (*app.App, *Buffer, *tracetest.InMemoryExporter) {
	t.Helper()
	tel, exp := Tracing(t)
	a, logs := newApp(t, env, app.Options{Migrate: true, EmbeddedRedis: true, Telemetry: tel})
	return a, logs, exp
}

// Tracing turns tracing on for one test, into the returned in-memory
// exporter, as telemetry.Setup does in a process: otel's global provider
// and propagator are set, and the old ones put back at the end. The test
// cannot be parallel.
func Tracing(t testing.TB) (*telemetry.Telemetry, *tracetest.InMemoryExporter) {
	t.Helper()
	global, prop := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	exp := tracetest.NewInMemoryExporter()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "launchkit-test", Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tel.Shutdown(context.Background())
		otel.SetTracerProvider(global)
		otel.SetTextMapPropagator(prop)
	})
	return tel, exp
}

// Flush exports the spans tel has ended so far and returns all that exp
// holds (Shutdown would empty exp).
func Flush(t testing.TB, tel *telemetry.Telemetry, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	provider, ok := tel.TracerProvider().(*sdktrace.TracerProvider)
	if !ok {
		t.Fatal("tracing is off")
	}
	if err := provider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans()
}

// Spans exports the spans a's tracing has ended so far and returns all
// that exp holds.
func Spans(t testing.TB, a *app.App, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	return Flush(t, a.Telemetry, exp)
}

func newApp(t testing.TB, env map[string]string, opts app.Options) (*app.App, *Buffer) {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"ENV":             "test",
		"DATABASE_URL":    "sqlite://" + filepath.Join(dir, "app.db"),
		"MAIL_OUTBOX_DIR": filepath.Join(dir, "outbox"),
		"STORAGE_DIR":     filepath.Join(dir, "uploads"), // not data/uploads in the package's source
		"LOG_LEVEL":       "debug",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(context.Background(), config.Options{Getenv: func(k string) string { return vars[k] }})
	if err != nil {
		t.Fatal(err)
	}
	logs := &Buffer{}
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg, logs), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	a.Users.Params = CheapHashing
	return a, logs
}

// CheapHashing are argon2id parameters that keep tests fast: hashes made
// with them verify like any other, at a thousandth of the cost.
var CheapHashing = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
