package jobs

import (
	"context"
	"errors"
	"fmt"
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

// statsCache is Stats's last answer (a failure included) and the reading
// under way, if any.
type statsCache struct {
	mu      sync.Mutex
	value   JobStats
	err     error
	at      time.Time     // when value or err was found; zero: never
	reading chan struct{} // closed when the reading under way ends
}

// Stats counts the tasks of every queue (asynq's Inspector), at most
// StatsTTL old. A reading of Redis runs one at a time, in the background:
// a caller waits for it at most StatsTimeout (or until ctx ends) and then
// gets ErrStatsUnavailable, which is kept as the answer for StatsTTL, as
// is Redis's own error.
func (c *Client) Stats(ctx context.Context) (JobStats, error) {
	sc := &c.stats
	sc.mu.Lock()
	if !sc.at.IsZero() && time.Since(sc.at) < StatsTTL {
		v, err := sc.value, sc.err
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
		return sc.value, sc.err
	case <-timer.C:
	case <-ctx.Done():
		return JobStats{}, fmt.Errorf("%w: %w", ErrStatsUnavailable, ctx.Err())
	}
	// Redis is slow or gone: say so to the callers of the next StatsTTL
	// at once, unless the reading ended meanwhile.
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.reading == reading {
		sc.value, sc.err, sc.at = JobStats{}, fmt.Errorf("%w: no answer within %s", ErrStatsUnavailable, StatsTimeout), time.Now()
	}
	return sc.value, sc.err
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

// countTasks adds up the states of every queue asynq knows.
func (c *Client) countTasks() (JobStats, error) {
	var st JobStats
	queues, err := c.inspector.Queues()
	if err != nil {
		return st, err
	}
	for _, q := range queues {
		info, err := c.inspector.GetQueueInfo(q)
		if err != nil {
			return JobStats{}, err
		}
		st.Pending += info.Pending
		st.Active += info.Active
		st.Scheduled += info.Scheduled
		st.Retry += info.Retry
		st.Archived += info.Archived
	}
	return st, nil
}
