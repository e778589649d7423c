package metrics_test

import (
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"

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
