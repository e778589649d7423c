// Package metrics holds the process's Prometheus registry and the metrics
// Launchkit records: HTTP requests by route, background tasks by type, and
// the Go runtime and process collectors. The registry is built per process
// (no global default registry) and served by the web layer at /metrics.
package metrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
	security     *prometheus.CounterVec
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
		security: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "launchkit_security_events_total",
			Help: "Security events recorded (sign-ins, failures, credential and role changes…), by kind.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.tasks, m.taskDuration, m.sessionWrite, m.cacheErrors, m.security,
	} {
		if err := m.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// ObserveRequest records one answered HTTP request. route is the route
// pattern (/user/{id}), never the raw path, so the label set stays small.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(method, route, fmt.Sprint(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveSecurityEvent counts one security event of kind (seclog.Kind).
func (m *Metrics) ObserveSecurityEvent(kind string) {
	m.security.WithLabelValues(kind).Inc()
}

// ObserveTask records one run of a background task.
func (m *Metrics) ObserveTask(taskType string, err error, d time.Duration) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.tasks.WithLabelValues(taskType, result).Inc()
	m.taskDuration.WithLabelValues(taskType).Observe(d.Seconds())
}

// ObserveSessionWrite counts one write to the session store.
func (m *Metrics) ObserveSessionWrite(op string) {
	m.sessionWrite.WithLabelValues(op).Inc()
}

// ObserveCacheError counts one failure of the cache's store.
func (m *Metrics) ObserveCacheError(op string) {
	m.cacheErrors.WithLabelValues(op).Inc()
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
