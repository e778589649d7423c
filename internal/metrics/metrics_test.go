package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/launchkit/launchkit/internal/metrics"
)

// scrape returns what /metrics would show of m.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// assertLines checks that every line of want is a line of got.
func assertLines(t *testing.T, got string, want ...string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("no line %q in:\n%s", w, got)
		}
	}
}

// TestCacheErrorsAndHashingAreExported: the cache's store failures are
// counted by operation, and the password hashes running and waiting are
// read from their source at each scrape.
func TestCacheErrorsAndHashingAreExported(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveCacheError("get")
	m.ObserveCacheError("get")
	m.ObserveCacheError("set")
	running, waiting := 2, 5
	if err := m.WatchPasswordHashing(func() (int, int) { return running, waiting }); err != nil {
		t.Fatal(err)
	}
	assertLines(t, scrape(t, m),
		`launchkit_cache_errors_total{op="get"} 2`,
		`launchkit_cache_errors_total{op="set"} 1`,
		"launchkit_password_hashes_running 2",
		"launchkit_password_hashes_waiting 5",
	)
	running, waiting = 0, 0
	assertLines(t, scrape(t, m), "launchkit_password_hashes_running 0", "launchkit_password_hashes_waiting 0")

	// The gauges are registered once: a second watch is an error, not a
	// panic or a second pair of series.
	if err := m.WatchPasswordHashing(func() (int, int) { return 0, 0 }); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("a second WatchPasswordHashing = %v, want an error", err)
	}
}

// scrapeOpenMetrics returns what /metrics would show of m to a scraper
// asking for OpenMetrics, the format with exemplars.
func scrapeOpenMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	m.Handler(nil).ServeHTTP(rec, r)
	return rec.Body.String()
}

// TestTaskDurationCarriesASampledTrace: a task run in a sampled trace
// leaves its trace ID as the exemplar of its duration's bucket; one in
// no trace, or in a trace not sampled, leaves none.
func TestTaskDurationCarriesASampledTrace(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	in := func(flags trace.TraceFlags, id byte) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{15: id}, SpanID: trace.SpanID{7: 1}, TraceFlags: flags,
		}))
	}
	m.ObserveTask(in(trace.FlagsSampled, 0xab), "email:welcome", nil, 20*time.Millisecond)
	m.ObserveTask(in(0, 0xcd), "email:reset", nil, 20*time.Millisecond)
	m.ObserveTask(context.Background(), "email:confirm", errors.New("boom"), 20*time.Millisecond)
	got := scrapeOpenMetrics(t, m)
	exemplar := regexp.MustCompile(`(?m)^launchkit_task_duration_seconds_bucket\{type="([^"]+)",le="[^"]+"\} \d+ # \{trace_id="([0-9a-f]+)"\} 0\.02 `)
	found := exemplar.FindAllStringSubmatch(got, -1)
	if len(found) != 1 || found[0][1] != "email:welcome" || found[0][2] != "000000000000000000000000000000ab" {
		t.Errorf("exemplars = %q, want one on email:welcome with its trace ID:\n%s", found, got)
	}
	assertLines(t, scrape(t, m), `launchkit_tasks_processed_total{result="error",type="email:confirm"} 1`)
}

// TestQueueDepthIsReadAtEachScrape: the queues' counts are published by
// queue and state; when they cannot be read the scrape still succeeds,
// without them, and says so in launchkit_queue_stats_up.
func TestQueueDepthIsReadAtEachScrape(t *testing.T) {
	m, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	var readErr error
	err = m.WatchQueues(func(context.Context) (map[string]metrics.QueueTasks, error) {
		if readErr != nil {
			return nil, readErr
		}
		return map[string]metrics.QueueTasks{"critical": {Pending: 4, Active: 1}, "low": {Retry: 2, Archived: 3, Scheduled: 5}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, scrape(t, m),
		"launchkit_queue_stats_up 1",
		`launchkit_queue_tasks{queue="critical",state="pending"} 4`,
		`launchkit_queue_tasks{queue="critical",state="active"} 1`,
		`launchkit_queue_tasks{queue="critical",state="archived"} 0`,
		`launchkit_queue_tasks{queue="low",state="retry"} 2`,
		`launchkit_queue_tasks{queue="low",state="archived"} 3`,
		`launchkit_queue_tasks{queue="low",state="scheduled"} 5`,
	)
	readErr = errors.New("redis: connection refused")
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); rec.Code != 200 || strings.Contains(body, "launchkit_queue_tasks{") || !strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("with Redis down: %d, want 200 with the other metrics and no queue counts:\n%s", rec.Code, body)
	}
	assertLines(t, rec.Body.String(), "launchkit_queue_stats_up 0")
}
