package outbox_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/outbox"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestARelayedTaskContinuesTheTraceOfItsTransaction: a row written in a
// request's transaction keeps that request's trace, and the task the
// relay's loop queues later, outside any request, carries it on — as an
// enqueue span in that trace, whose context is in the task's headers.
func TestARelayedTaskContinuesTheTraceOfItsTransaction(t *testing.T) {
	tel, exp := testenv.Tracing(t)

	d := testenv.MigratedDB(t, "sqlite://"+filepath.Join(t.TempDir(), "outbox.db"))
	rdb := redis.NewClient(&redis.Options{Addr: miniredis.RunT(t).Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	relay := outbox.NewRelay(d.Gorm, rdb, queue, slog.New(slog.DiscardHandler))

	reqCtx, req := tel.Tracer().Start(context.Background(), "POST /user/register", trace.WithSpanKind(trace.SpanKindServer))
	err := d.Gorm.WithContext(reqCtx).Transaction(func(tx *gorm.DB) error { return outbox.Add(tx, "test:task", []byte("x")) })
	req.End()
	if err != nil {
		t.Fatal(err)
	}
	// Untraced rows keep nothing.
	if err := d.Gorm.Transaction(func(tx *gorm.DB) error { return outbox.Add(tx, "test:untraced", []byte("y")) }); err != nil {
		t.Fatal(err)
	}
	// The relay's loop: no request, no span in its context.
	if n, err := relay.Flush(context.Background()); err != nil || n != 2 {
		t.Fatalf("Flush = %d, %v", n, err)
	}
	var enqueue tracetest.SpanStub
	for _, s := range testenv.Flush(t, tel, exp) {
		if s.Name == "enqueue test:task" {
			enqueue = s
		}
		if s.Name == "enqueue test:untraced" {
			t.Error("a row written outside any trace started one when relayed")
		}
	}
	if enqueue.SpanContext.TraceID() != req.SpanContext().TraceID() || enqueue.Parent.SpanID() != req.SpanContext().SpanID() {
		t.Fatalf("the relay's enqueue span is not in the request's trace: %+v", enqueue.Parent)
	}
	for _, task := range pendingTasks(t, rdb) {
		tp := task.Headers["traceparent"]
		switch task.Type {
		case "test:task":
			if !strings.Contains(tp, enqueue.SpanContext.TraceID().String()+"-"+enqueue.SpanContext.SpanID().String()) {
				t.Errorf("the task's traceparent %q is not the enqueue span's", tp)
			}
		case "test:untraced":
			if len(task.Headers) != 0 {
				t.Errorf("an untraced task carries headers %v", task.Headers)
			}
		}
	}
}
