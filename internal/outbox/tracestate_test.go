package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestALargeTracestateNeverFailsTheTransaction: a request continuing a
// proxy's trace whose tracestate is as large as the standard allows (32
// members of 256 characters, of which JSON escapes each "<" in six)
// writes its outbox row on every database, trace_headers being a
// VARCHAR(1024): the row keeps the traceparent and the task continues
// the trace.
func TestALargeTracestateNeverFailsTheTransaction(t *testing.T) {
	tel, _ := testenv.Tracing(t)
	var members []string
	for i := range 32 {
		members = append(members, fmt.Sprintf("k%d=%s", i, strings.Repeat("<", 252)))
	}
	state, err := trace.ParseTraceState(strings.Join(members, ","))
	if err != nil {
		t.Fatal(err)
	}
	proxy := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
		TraceFlags: trace.FlagsSampled, TraceState: state, Remote: true})

	urls := map[string]string{"sqlite": "sqlite://" + filepath.Join(t.TempDir(), "outbox.db")}
	if testing.Short() {
		t.Log("short: SQLite only")
	} else {
		urls["postgres"], urls["mysql"] = testenv.PostgresURL(t), testenv.MySQLURL(t)
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			d := testenv.MigratedDB(t, url)
			ctx, req := tel.Tracer().Start(trace.ContextWithRemoteSpanContext(context.Background(), proxy), "POST /user/register",
				trace.WithSpanKind(trace.SpanKindServer))
			defer req.End()
			if got := req.SpanContext().TraceState().Len(); got != 32 {
				t.Fatalf("the request's tracestate has %d members", got)
			}
			err := d.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return outbox.Add(tx, "test:task", []byte("x")) })
			if err != nil {
				t.Fatalf("the transaction failed: %v", err)
			}
			rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
			t.Cleanup(func() { _ = rdb.Close() })
			relay := outbox.NewRelay(d.Gorm, rdb, queue, slog.New(slog.DiscardHandler))
			if n, err := relay.Flush(context.Background()); err != nil || n != 1 {
				t.Fatalf("Flush = %d, %v", n, err)
			}
			tasks := pendingTasks(t, rdb)
			if len(tasks) != 1 || !strings.Contains(tasks[0].Headers["traceparent"], proxy.TraceID().String()) {
				t.Errorf("the task does not continue the trace: %+v", tasks)
			}
		})
	}
}
