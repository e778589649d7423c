// Package metrics holds the process's Prometheus registry and the metrics
// Launchkit records: HTTP requests by route, background tasks by type,
// the queues, the cache, the rate limits, the database pool, and the Go
// runtime and process collectors. The registry is built per process (no
// global default registry) and served by the web layer at /metrics
// (Handler). deploy/grafana and deploy/prometheus use these names; a test
// there fails when one of them is renamed here.
//
// Every label's values come from a fixed set (route patterns, task types,
// queue names, budget names…), never from what a client sends, so the
// number of series stays bounded.
package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// Metrics is the registry with Launchkit's own collectors on it.
type Metrics struct {
	// Registry is what /metrics serves.
	Registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	tasks        *prometheus.CounterVec
	taskDuration *prometheus.HistogramVec
	sessionWrite *prometheus.CounterVec
	cacheErrors  *prometheus.CounterVec
	cacheLookups *prometheus.CounterVec
	security     *prometheus.CounterVec
	refusals     *prometheus.CounterVec
	readiness    *prometheus.GaugeVec
}

// New builds the registry.
func New() (*Metrics, error) {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "launchkit_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_tasks_processed_total",
			Help: "Background tasks run by this process, by type and result (ok or error).",
		}, []string{"type", "result"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "launchkit_task_duration_seconds",
			Help:    "Time to run background tasks, by type.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 120},
		}, []string{"type"}),
		sessionWrite: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_session_store_writes_total",
			Help: "Writes to the session store, by operation (commit or delete). A steady signed-in visitor causes about one a minute.",
		}, []string{"op"}),
		cacheErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_cache_errors_total",
			Help: "Failures of the cache's store, by operation (get, set, delete); each was answered by computing the value.",
		}, []string{"op"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_cache_requests_total",
			Help: "Values asked of the cache, by result: hit (kept and read back) or miss (computed, including when the store failed).",
		}, []string{"result"}),
		security: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_security_events_total",
			Help: "Security events recorded (sign-ins, failures, credential and role changes…), by kind.",
		}, []string{"kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_rate_limit_refusals_total",
			Help: "Requests refused (429) because a guessing or flooding budget was spent, by budget.",
		}, []string{"budget"}),
		readiness: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "launchkit_readiness_check_ok",
			Help: "Result of the last /readyz check of each dependency (1 ok, 0 down), set each time /readyz is asked.",
		}, []string{"check"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.tasks, m.taskDuration, m.sessionWrite,
		m.cacheErrors, m.cacheLookups, m.security, m.refusals, m.readiness,
	} {
		if err := m.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// Handler serves the registry to a scraper: in the OpenMetrics format
// when it asks for it (Accept: application/openmetrics-text), the only
// format that carries the latency histograms' exemplars, else in the
// classic text format. errorLog gets what cannot be gathered.
func (m *Metrics) Handler(errorLog *log.Logger) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorLog: errorLog, EnableOpenMetrics: true})
}

// ObserveRequest records one answered HTTP request. route is the route
// pattern (/user/{id}), never the raw path, so the label set stays small.
// When ctx is in a sampled trace, its duration carries the trace ID as an
// exemplar, so a slow bucket on the dashboard links to a trace of it.
func (m *Metrics) ObserveRequest(ctx context.Context, method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, fmt.Sprint(status)).Inc()
	observe(ctx, m.httpDuration.WithLabelValues(method, route), d)
}

// observe records d in h, with ctx's trace ID as its exemplar when ctx is
// in a sampled trace.
func observe(ctx context.Context, h prometheus.Observer, d time.Duration) {
	if id := telemetry.TraceID(ctx); id != "" {
		if e, ok := h.(prometheus.ExemplarObserver); ok {
			e.ObserveWithExemplar(d.Seconds(), prometheus.Labels{"trace_id": id})
			return
		}
	}
	h.Observe(d.Seconds())
}

// ObserveSecurityEvent counts one security event of kind (seclog.Kind).
func (m *Metrics) ObserveSecurityEvent(kind string) {
	m.security.WithLabelValues(kind).Inc()
}

// ObserveTask records one run of a background task, with its trace ID as
// the duration's exemplar when ctx is in a sampled trace.
func (m *Metrics) ObserveTask(ctx context.Context, taskType string, err error, d time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tasks.WithLabelValues(taskType, result).Inc()
	observe(ctx, m.taskDuration.WithLabelValues(taskType), d)
}

// ObserveSessionWrite counts one write to the session store.
func (m *Metrics) ObserveSessionWrite(op string) {
	m.sessionWrite.WithLabelValues(op).Inc()
}

// ObserveCacheError counts one failure of the cache's store.
func (m *Metrics) ObserveCacheError(op string) {
	m.cacheErrors.WithLabelValues(op).Inc()
}

// ObserveCacheLookup counts one value asked of the cache: found there
// (hit) or computed (miss).
func (m *Metrics) ObserveCacheLookup(hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(result).Inc()
}

// ObserveRefusal counts one request refused because the budget named
// budget was spent. budget is one of the web layer's fixed budget names
// ("guess", "post"…), never a key holding an address or an account.
func (m *Metrics) ObserveRefusal(budget string) {
	m.refusals.WithLabelValues(budget).Inc()
}

// ObserveReadiness records the result of /readyz's check of a dependency
// ("database", "redis", "directory").
func (m *Metrics) ObserveReadiness(check string, ok bool) {
	v := 0.0
	if ok {
		v = 1
	}
	m.readiness.WithLabelValues(check).Set(v)
}

// WatchDB publishes the connection pools' statistics (go_sql_*: open, in
// use, idle, waits) under db_name: "primary" for the pool writes go
// through, and "read" for the read pool when it is another one (SQLite).
func (m *Metrics) WatchDB(primary, read *sql.DB) error {
	cs := []prometheus.Collector{collectors.NewDBStatsCollector(primary, "primary")}
	if read != nil && read != primary {
		cs = append(cs, collectors.NewDBStatsCollector(read, "read"))
	}
	for _, c := range cs {
		if err := m.Registry.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// WatchPasswordHashing publishes how many password hashes run and wait
// for a turn, as stats reports them.
func (m *Metrics) WatchPasswordHashing(stats func() (running, waiting int)) error {
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "launchkit_password_hashes_running",
		Help: "Password hashes (argon2id) being computed now; at most one per CPU.",
	}, func() float64 { r, _ := stats(); return float64(r) })
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "launchkit_password_hashes_waiting",
		Help: "Password hashes waiting for a turn: sign-ins and password changes queued behind the ones running.",
	}, func() float64 { _, w := stats(); return float64(w) })
	for _, c := range []prometheus.Collector{running, waiting} {
		if err := m.Registry.Register(c); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}
