package telemetry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/telemetry"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startReal turns tracing on with the real OTLP exporter, from the
// process's environment as a deployment sets it.
func startReal(t *testing.T, vars map[string]string, logs io.Writer) *telemetry.Telemetry {
	t.Helper()
	for k, v := range vars {
		t.Setenv(k, v)
	}
	global, prop, handler := otel.GetTracerProvider(), otel.GetTextMapPropagator(), otel.GetErrorHandler()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "x-web", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tel.Shutdown(ctx)
		otel.SetTracerProvider(global)
		otel.SetTextMapPropagator(prop)
		otel.SetErrorHandler(handler)
		waitForExporters(t)
	})
	return tel
}

// waitForExporters waits until the exporter's goroutines have ended, so
// that the test of tracing off finds none of them.
func waitForExporters(t *testing.T) {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "otlptrace") {
			return
		}
	}
	t.Error("the exporter's goroutines outlive its shutdown")
}

// TestTheCollectorsCredentialsAreNeverLogged: an endpoint carrying a key
// (as user information or in its query) and OTEL_EXPORTER_OTLP_HEADERS
// are in neither the endpoint the start-up line logs nor the logged
// error of an export the collector refuses, which does reach the app's
// logger.
func TestTheCollectorsCredentialsAreNeverLogged(t *testing.T) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "bad key %s for %s", r.Header.Get("Authorization"), r.URL.RequestURI())
	}))
	defer collector.Close()
	host := strings.TrimPrefix(collector.URL, "http://")
	logs := &lockedBuffer{}
	tel := startReal(t, map[string]string{
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://userKEY1234:passKEY5678@" + host + "/v1/traces?api_key=queryKEY9012",
		"OTEL_EXPORTER_OTLP_HEADERS":         "Authorization=Bearer%20headerKEY3456,x-honeycomb-team=teamKEY7890",
		"OTEL_BSP_SCHEDULE_DELAY":            "10",
	}, logs)
	if got, want := tel.Endpoint(), "http://"+host+"/v1/traces"; got != want {
		t.Errorf("Endpoint() = %q, want %q", got, want)
	}
	_, span := tel.Tracer().Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
	span.End()
	// The batcher exports in the background, reporting a failure to
	// otel's error handler.
	out := logs.String()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out, "401") && time.Now().Before(deadline); out = logs.String() {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out, "401") {
		t.Fatalf("the refused export is not logged:\n%s", out)
	}
	for _, secret := range []string{"userKEY1234", "passKEY5678", "queryKEY9012", "headerKEY3456", "teamKEY7890"} {
		if strings.Contains(out, secret) || strings.Contains(tel.Endpoint(), secret) {
			t.Errorf("%s is logged:\n%s", secret, out)
		}
	}
}

// TestACollectorThatNeverAnswersSlowsNothing: with a collector that
// accepts connections and never reads them, ending spans stays as fast
// as ever (the batcher drops what its queue cannot hold) and shutting
// down gives up within its deadline.
func TestACollectorThatNeverAnswersSlowsNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	tel := startReal(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + ln.Addr().String(),
		"OTEL_BSP_SCHEDULE_DELAY": "10", "OTEL_EXPORTER_OTLP_TIMEOUT": "300"}, io.Discard)
	tracer := tel.Tracer()
	var worst time.Duration
	start := time.Now()
	for range 20000 {
		t0 := time.Now()
		_, span := tracer.Start(context.Background(), "GET /", trace.WithSpanKind(trace.SpanKindServer))
		span.End()
		worst = max(worst, time.Since(t0))
	}
	total := time.Since(start)
	t.Logf("20000 spans in %v, the slowest %v", total, worst)
	if worst > 100*time.Millisecond || total > 5*time.Second {
		t.Errorf("spans blocked on the collector: 20000 in %v, the slowest %v", total, worst)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_ = tel.Shutdown(ctx)
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Shutdown took %v past its 500ms deadline", d)
	}
}
