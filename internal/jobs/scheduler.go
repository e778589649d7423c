package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// scheduler queues the periodic tasks (those with a Schedule) at their
// times: the Celery beat of Launchkit. Several may run (every worker
// without DISABLE_SCHEDULER); PeriodicOptions makes each period run once.
//
// It is not asynq's Scheduler, which enqueues every run of an entry with
// the options it was registered with: one task ID for all periods, so a
// run that failed for good (kept in the archive for up to 90 days)
// refused every later one. Here each period's run has an ID of its own.
type scheduler struct {
	client  *asynq.Client
	logger  *slog.Logger
	entries []scheduleEntry
	stop    context.CancelFunc
	running sync.WaitGroup
}

// scheduleEntry is a periodic task and its parsed schedule.
type scheduleEntry struct {
	task     Task
	schedule cron.Schedule
}

// newScheduler queues the periodic tasks of tasks through rdb.
func newScheduler(rdb redis.UniversalClient, tasks []Task, logger *slog.Logger) (*scheduler, error) {
	s := &scheduler{client: asynq.NewClientFromRedisClient(rdb), logger: logger}
	for _, t := range tasks {
		if t.Schedule == "" {
			continue
		}
		schedule, err := parseSchedule(t)
		if err != nil {
			return nil, err
		}
		s.entries = append(s.entries, scheduleEntry{task: t, schedule: schedule})
	}
	return s, nil
}

// start queues each periodic task at its times, in the background, until
// shutdown.
func (s *scheduler) start() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	var next []string
	for _, e := range s.entries {
		next = append(next, fmt.Sprintf("%s at %s", e.task.Type, e.schedule.Next(time.Now().UTC()).Format(time.RFC3339)))
		s.running.Go(func() { s.run(ctx, e) })
	}
	s.logger.Info("scheduler started", "next", next)
}

// shutdown stops queueing and waits for an enqueue under way.
func (s *scheduler) shutdown() {
	if s.stop != nil {
		s.stop()
		s.running.Wait()
	}
}

// run queues e's task at each of its times until ctx ends. It waits on
// the wall clock, as every other scheduler does: a timer that fires early
// (the clock was set back) is waited out again. One that fires late (the
// process was stopped) queues the latest period that is due, once: the
// one other schedulers queued last, which PeriodicOptions still refuses.
func (s *scheduler) run(ctx context.Context, e scheduleEntry) {
	next := e.schedule.Next(time.Now().UTC())
	for {
		if wait := time.Until(next); wait > 0 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case <-timer.C:
				continue
			}
		}
		now := time.Now().UTC()
		for later := e.schedule.Next(next); !later.After(now); later = e.schedule.Next(later) {
			next = later
		}
		s.enqueue(ctx, e.task, next)
		next = e.schedule.Next(next)
	}
}

// enqueue queues t's run of the period that begins at period. A task-ID
// conflict means another scheduler queued this period's run first, which
// is what several schedulers do; any other failure loses the period's
// run, and is an error.
func (s *scheduler) enqueue(ctx context.Context, t Task, period time.Time) {
	opts, err := PeriodicOptions(t, period)
	if err == nil {
		// The scheduler's enqueue has no request above it: it starts no
		// trace (telemetry's sampler), and the task's run starts its own.
		_, err = s.client.EnqueueContext(ctx, asynq.NewTask(t.Type, nil), opts...)
	}
	switch {
	case err == nil:
		s.logger.DebugContext(ctx, "periodic task queued", "type", t.Type, "period", period)
	case errors.Is(err, asynq.ErrTaskIDConflict):
		s.logger.DebugContext(ctx, "periodic task already queued for this period by another scheduler", "type", t.Type, "period", period)
	case ctx.Err() != nil:
		// Shutting down: the next start queues the next period.
	default:
		s.logger.ErrorContext(ctx, "periodic task not queued: this period's run is lost", "type", t.Type, "period", period, "err", err)
	}
}

// PeriodicOptions are the queue options a scheduler enqueues periodic
// task t with for the period that begins at period (one of the times of
// its Schedule).
//
// The task ID names the task and the period ("periodic:sessions:purge:
// 2025-06-01T10:00:00Z"). Every scheduler (several workers started
// without DISABLE_SCHEDULER) fires a period at the same moment and gives
// its run the same ID: the first enqueue is taken and the others are
// refused with a task-ID conflict, so the task runs once per period
// however many schedulers there are. The finished run is kept for one
// period (Retention), so that a scheduler whose clock or process lags is
// refused too, also when the run was quick; after that the ID is never
// used again. A run that fails for good stays in the archive under its
// own period's ID, for the dashboard, and blocks no later period.
//
// asynq's Unique option is no substitute: its lock ends with a successful
// run and let a lagging scheduler's enqueue through.
func PeriodicOptions(t Task, period time.Time) ([]asynq.Option, error) {
	schedule, err := parseSchedule(t)
	if err != nil {
		return nil, err
	}
	period = period.UTC()
	id := fmt.Sprintf("periodic:%s:%s", t.Type, period.Format(time.RFC3339))
	return append(slices.Clone(t.Options), asynq.TaskID(id), asynq.Retention(schedule.Next(period).Sub(period))), nil
}

// parseSchedule reads t's Schedule: a cron line, "@hourly" and the like,
// in UTC, or "@every 10m", which fires at the multiples of its interval
// (10:00, 10:10, …) rather than counting from the scheduler's start, so
// that several schedulers agree on its periods as on a cron line's.
func parseSchedule(t Task) (cron.Schedule, error) {
	schedule, err := cron.ParseStandard(t.Schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule %q of %s: %w", t.Schedule, t.Type, err)
	}
	if every, ok := schedule.(cron.ConstantDelaySchedule); ok {
		return everySchedule(every.Delay), nil
	}
	return schedule, nil
}

// everySchedule fires at the multiples of its interval since the zero
// time.
type everySchedule time.Duration

// Next implements cron.Schedule.
func (e everySchedule) Next(t time.Time) time.Time {
	return t.Truncate(time.Duration(e)).Add(time.Duration(e))
}
