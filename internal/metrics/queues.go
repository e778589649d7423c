package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueTasks counts the tasks of one queue by state, as the job queue's
// inspector reports them.
type QueueTasks struct {
	Pending, Active, Scheduled, Retry, Archived int
}

// byState is q's counts under the state label's values.
func (q QueueTasks) byState() map[string]int {
	return map[string]int{"pending": q.Pending, "active": q.Active, "scheduled": q.Scheduled, "retry": q.Retry, "archived": q.Archived}
}

// queueReadTimeout bounds a scrape's wait for the queue counts; the
// reader (jobs.Client.QueueStats) has its own, shorter one and a cache.
const queueReadTimeout = 3 * time.Second

// queueCollector reads the queue counts at each scrape.
type queueCollector struct {
	read  func(context.Context) (map[string]QueueTasks, error)
	tasks *prometheus.Desc
	up    *prometheus.Desc
}

// WatchQueues publishes launchkit_queue_tasks{queue,state} from read at
// each scrape, and launchkit_queue_stats_up: 1 when read answered, 0 when
// it failed (Redis down or slow), in which case the counts are left out
// rather than failing the whole scrape. read must be cheap to call every
// scrape (jobs.Client.QueueStats keeps its answer a few seconds and asks
// Redis once for every caller). Every process sharing a Redis reports the
// same counts: a dashboard takes their max, not their sum.
func (m *Metrics) WatchQueues(read func(context.Context) (map[string]QueueTasks, error)) error {
	c := &queueCollector{
		read: read,
		tasks: prometheus.NewDesc("launchkit_queue_tasks",
			"Tasks in each job queue, by state: pending (waiting for a worker), active, scheduled, retry (failed, to be tried again), archived (failed for good).",
			[]string{"queue", "state"}, nil),
		up: prometheus.NewDesc("launchkit_queue_stats_up",
			"Whether the job queue's counts could be read from Redis at this scrape (1) or not (0).",
			nil, nil),
	}
	if err := m.Registry.Register(c); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	return nil
}

// Describe sends the two descriptions.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.up
}

// Collect reads the counts; a failure is reported as up 0, not an error.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), queueReadTimeout)
	defer cancel()
	queues, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	for name, q := range queues {
		for state, n := range q.byState() {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), name, state)
		}
	}
}
