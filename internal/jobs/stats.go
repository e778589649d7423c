package jobs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// JobStats counts the tasks in every queue, by state, as the admin pages
// show them.
type JobStats struct {
	// Pending tasks wait for a worker; Active ones are running.
	Pending, Active int
	// Scheduled tasks wait for their time; Retry ones failed and wait to
	// be tried again.
	Scheduled, Retry int
	// Archived tasks failed for good (out of retries, or told not to
	// retry): someone has to look at them on /admin/jobs.
	Archived int
}

// Queued is how many tasks wait for a worker or run now.
func (s JobStats) Queued() int { return s.Pending + s.Active }

// How long Stats keeps its answer, and how long a request waits for
// Redis before answering ErrStatsUnavailable. The home page of every
// admin asks, so a few seconds of staleness spare Redis a scan of every
// queue per page view; a Redis that does not answer costs a page at most
// StatsTimeout, and then nothing until StatsTTL has passed.
const (
	StatsTTL     = 5 * time.Second
	StatsTimeout = time.Second
)

// ErrStatsUnavailable is Stats's answer when Redis did not answer in
// time.
var ErrStatsUnavailable = errors.New("job queue statistics are unavailable")

// statsCache is the last answer of QueueStats (a failure included) and
// the reading under way, if any.
type statsCache struct {
	mu      sync.Mutex
	value   map[string]JobStats // by queue
	err     error
	at      time.Time     // when value or err was found; zero: never
	reading chan struct{} // closed when the reading under way ends
}

// Stats counts the tasks of every queue together, at most StatsTTL old
// (QueueStats).
func (c *Client) Stats(ctx context.Context) (JobStats, error) {
	queues, err := c.QueueStats(ctx)
	var total JobStats
	for _, q := range queues {
		total.Pending += q.Pending
		total.Active += q.Active
		total.Scheduled += q.Scheduled
		total.Retry += q.Retry
		total.Archived += q.Archived
	}
	return total, err
}

// QueueStats counts the tasks of each queue asynq knows (its Inspector),
// by queue name, at most StatsTTL old: the admin pages and every scrape
// of /metrics share one reading. A reading of Redis runs one at a time,
// in the background: a caller waits for it at most StatsTimeout (or until
// ctx ends) and then gets ErrStatsUnavailable, which is kept as the
// answer for StatsTTL, as is Redis's own error. The map is the caller's.
func (c *Client) QueueStats(ctx context.Context) (map[string]JobStats, error) {
	sc := &c.stats
	sc.mu.Lock()
	if !sc.at.IsZero() && time.Since(sc.at) < StatsTTL {
		v, err := maps.Clone(sc.value), sc.err
		sc.mu.Unlock()
		return v, err
	}
	if sc.reading == nil {
		sc.reading = make(chan struct{})
		go c.readStats(sc.reading)
	}
	reading := sc.reading
	sc.mu.Unlock()

	timer := time.NewTimer(StatsTimeout)
	defer timer.Stop()
	select {
	case <-reading:
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return maps.Clone(sc.value), sc.err
	case <-timer.C:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrStatsUnavailable, ctx.Err())
	}
	// Redis is slow or gone: say so to the callers of the next StatsTTL
	// at once, unless the reading ended meanwhile.
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.reading == reading {
		sc.value, sc.err, sc.at = nil, fmt.Errorf("%w: no answer within %s", ErrStatsUnavailable, StatsTimeout), time.Now()
	}
	return maps.Clone(sc.value), sc.err
}

// readStats reads the counts from Redis into c.stats and closes done.
func (c *Client) readStats(done chan struct{}) {
	v, err := c.countTasks()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrStatsUnavailable, err)
	}
	sc := &c.stats
	sc.mu.Lock()
	sc.value, sc.err, sc.at, sc.reading = v, err, time.Now(), nil
	sc.mu.Unlock()
	close(done)
}

// countTasks counts the states of every queue asynq knows.
func (c *Client) countTasks() (map[string]JobStats, error) {
	queues, err := c.inspector.Queues()
	if err != nil {
		return nil, err
	}
	byQueue := make(map[string]JobStats, len(queues))
	for _, q := range queues {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			return nil, err
		}
		byQueue[q] = JobStats{Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled, Retry: info.Retry, Archived: info.Archived}
	}
	return byQueue, nil
}
