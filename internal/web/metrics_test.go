package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/cache"
)

// openMetrics is what a Prometheus that reads exemplars asks /metrics for.
const openMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"

// homeBucket matches a bucket line of the home page's latency histogram,
// with its exemplar's trace ID when it has one.
var homeBucket = regexp.MustCompile(`(?m)^launchkit_http_request_duration_seconds_bucket\{method="GET",route="/",le="[^"]+"\} \d+(?: # \{trace_id="([0-9a-f]{32})"\} \S+ \S+)?$`)

// exemplarTraceIDs are the trace IDs of the exemplars of the home page's
// latency buckets in an OpenMetrics scrape.
func exemplarTraceIDs(t *testing.T, scrape string) []string {
	t.Helper()
	lines := homeBucket.FindAllStringSubmatch(scrape, -1)
	if len(lines) == 0 {
		t.Fatalf("no bucket of GET / in:\n%s", scrape)
	}
	var ids []string
	for _, l := range lines {
		if l[1] != "" {
			ids = append(ids, l[1])
		}
	}
	return ids
}

// TestLatencyCarriesTheTraceAsAnExemplar: with tracing on, a request's
// duration is observed with its trace ID as the exemplar, which /metrics
// shows to a scraper asking for OpenMetrics (and is the ID of the
// request's exported span); without tracing, no exemplar at all.
func TestLatencyCarriesTheTraceAsAnExemplar(t *testing.T) {
	s, spans := newTracedSite(t, nil)
	s.get("/").status(http.StatusOK)
	scrape := s.get("/metrics", "Accept", openMetrics).status(http.StatusOK).
		headerPrefix("Content-Type", "application/openmetrics-text").body
	ids := exemplarTraceIDs(t, scrape)
	if len(ids) != 1 {
		t.Fatalf("exemplars of GET / = %q, want one:\n%s", ids, scrape)
	}
	var traced []string
	for _, span := range spans() {
		if span.Name == "GET /" {
			traced = append(traced, span.SpanContext.TraceID().String())
		}
	}
	if len(traced) != 1 || traced[0] != ids[0] {
		t.Errorf("the exemplar's trace is %s, the request's span's %q", ids[0], traced)
	}
	// The classic text format has no exemplars.
	if plain := s.get("/metrics").status(http.StatusOK).body; strings.Contains(plain, "trace_id") {
		t.Errorf("the text format shows an exemplar:\n%s", plain)
	}

	untraced := newSite(t, nil)
	untraced.get("/").status(http.StatusOK)
	scrape = untraced.get("/metrics", "Accept", openMetrics).status(http.StatusOK).body
	if ids := exemplarTraceIDs(t, scrape); len(ids) != 0 || strings.Contains(scrape, "trace_id") {
		t.Errorf("without tracing, exemplars %q:\n%s", ids, scrape)
	}
}

// TestOperatorMetricsAreServed: the refusals of a spent budget are
// counted under the budget's name (never the address), /readyz's checks
// are kept, and the job queues, the cache and the database pool are on
// /metrics.
func TestOperatorMetricsAreServed(t *testing.T) {
	s := newSite(t, nil)
	v := s.from(7)
	for i := range 12 {
		v.post("/user/sign-in", "email", fmt.Sprintf("nobody%d@example.com", i), "password", "a guess")
	}
	s.get("/readyz").status(http.StatusOK)
	for range 2 {
		if _, err := cache.Fetch(t.Context(), s.app.Cache, "metrics-test", 0, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	scrape := s.get("/metrics").status(http.StatusOK).body
	for _, want := range []string{
		`launchkit_rate_limit_refusals_total{budget="guess"} 2`,
		`launchkit_readiness_check_ok{check="database"} 1`,
		`launchkit_readiness_check_ok{check="redis"} 1`,
		`launchkit_queue_stats_up 1`,
		`go_sql_max_open_connections{db_name="primary"} 1`,
		`launchkit_cache_requests_total{result="hit"} 1`,
		`launchkit_cache_requests_total{result="miss"} 1`,
	} {
		if !strings.Contains(scrape, want+"\n") {
			t.Errorf("no line %q in /metrics", want)
		}
	}
	if strings.Contains(scrape, "203.0.113") {
		t.Error("/metrics shows a client's address")
	}
}
