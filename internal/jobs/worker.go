package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Concurrency int
	// Scheduler also runs the periodic-task scheduler (several may: see
	// PeriodicOptions).
	Scheduler bool
	// SchedulerRedis is where the scheduler opens its own connection
	// (RedisTarget.ConnOpt; behind Sentinel it must follow the primary
	// too); nil: the server rdb talks to.
	SchedulerRedis asynq.RedisConnOpt
	// OnTaskFailed, when set, hears of each task that failed for good:
	// out of retries, or refused without retry.
	OnTaskFailed func(ctx context.Context, taskType, taskID string, err error)
	// ShutdownTimeout is how long Shutdown waits for running tasks
	// before handing them back to the queue.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
}

// Worker processes tasks from Redis and, optionally, enqueues the
// periodic ones.
type Worker struct {
	server    *asynq.Server
	scheduler *asynq.Scheduler
	handler   asynq.Handler
	logger    *slog.Logger
}

// NewWorker builds a worker on rdb; closing rdb is the caller's job.
func NewWorker(rdb *redis.Client, h *Handlers, opts WorkerOptions) (*Worker, error) {
	logger := opts.Logger.With("component", "worker")
	server := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     opts.Concurrency,
		Queues:          Queues,
		ShutdownTimeout: opts.ShutdownTimeout,
		Logger:          asynqLogger{logger},
		LogLevel:        asynq.WarnLevel,
		RetryDelayFunc:  retryDelay,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			logger.ErrorContext(ctx, "task failed", "type", t.Type(), "task_id", taskID(ctx), "retry", retried, "max_retry", maxRetry, "err", err)
			if opts.OnTaskFailed != nil && (retried >= maxRetry || errors.Is(err, asynq.SkipRetry)) {
				opts.OnTaskFailed(ctx, t.Type(), taskID(ctx), err)
			}
		}),
	})
	w := &Worker{server: server, handler: h.Mux(), logger: logger}
	if opts.Scheduler {
		// The scheduler gets a connection of its own: asynq closes the
		// scheduler's connection at shutdown and refuses (with an error
		// in the log) to close a shared one.
		conn := opts.SchedulerRedis
		if conn == nil {
			conn = ConnOpt(rdb)
		}
		w.scheduler = asynq.NewScheduler(conn, &asynq.SchedulerOpts{
			Logger:   asynqLogger{opts.Logger.With("component", "scheduler")},
			LogLevel: asynq.WarnLevel,
		})
		for _, t := range Tasks {
			if t.Schedule == "" {
				continue
			}
			opts, err := PeriodicOptions(t)
			if err == nil {
				_, err = w.scheduler.Register(t.Schedule, asynq.NewTask(t.Type, nil), opts...)
			}
			if err != nil {
				return nil, fmt.Errorf("schedule %s: %w", t.Type, err)
			}
		}
	}
	return w, nil
}

// Start begins processing (and scheduling) in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.handler); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if w.scheduler != nil {
		if err := w.scheduler.Start(); err != nil {
			w.server.Shutdown()
			return fmt.Errorf("start scheduler: %w", err)
		}
	}
	w.logger.Info("worker started", "scheduler", w.scheduler != nil)
	return nil
}

// Shutdown stops taking tasks, waits for running ones up to the shutdown
// timeout and hands the rest back to the queue.
func (w *Worker) Shutdown() {
	if w.scheduler != nil {
		w.scheduler.Shutdown()
	}
	w.server.Shutdown()
	w.logger.Info("worker stopped")
}

// ConnOpt describes rdb's server for asynq parts that open their own
// connection (the scheduler, which closes its own at shutdown).
func ConnOpt(rdb *redis.Client) asynq.RedisClientOpt { return clientOpt(rdb.Options()) }

// clientOpt describes the one server of o to asynq.
func clientOpt(o *redis.Options) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Network: o.Network, Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLSConfig}
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) {
	msg := fmt.Sprint(args...)
	if strings.Contains(msg, asynq.ErrTaskIDConflict.Error()) {
		// Another scheduler enqueued this period's run first: the point
		// of PeriodicOptions, not a fault.
		a.l.Debug(msg)
		return
	}
	a.l.Error(msg)
}

// Fatal is called by asynq only on unrecoverable start-up errors; it logs
// instead of exiting so the caller's error path and shutdown still run.
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Shared hands rdb itself to asynq code that asks for a connection option
// (asynqmon): it then uses the process's pool rather than opening its
// own, and has nothing of its own to close. Closing rdb stays the
// caller's job; never call Close on what was built with it.
func Shared(rdb *redis.Client) asynq.RedisConnOpt { return sharedClient{rdb} }

type sharedClient struct{ rdb *redis.Client }

// MakeRedisClient implements asynq.RedisConnOpt.
func (s sharedClient) MakeRedisClient() any { return s.rdb }

// PeriodicOptions are the queue options a scheduler enqueues periodic
// task t with. Each period's run has the same task ID, kept for half a
// period after it ends: a second scheduler (several workers started
// without DISABLE_SCHEDULER) that fires in the same period is refused
// with a task-ID conflict, so the task runs once per period however many
// schedulers there are — given schedules on the clock ("@hourly",
// "0 7 * * *"), which every scheduler fires at the same moment; "@every"
// counts from each scheduler's start.
func PeriodicOptions(t Task) ([]asynq.Option, error) {
	schedule, err := cron.ParseStandard(t.Schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule %q of %s: %w", t.Schedule, t.Type, err)
	}
	next := schedule.Next(time.Now())
	period := schedule.Next(next).Sub(next)
	return append(slices.Clone(t.Options), asynq.TaskID("periodic:"+t.Type), asynq.Retention(period/2)), nil
}

// retryDelay is asynq's backoff, but for a task whose worker died under
// it (killed, cut off: its lease expired). asynq finds such a task only a
// minute or so after the death, so it runs again at once rather than
// waiting a further backoff as if it had failed.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}
