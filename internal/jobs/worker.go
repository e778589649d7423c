package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Concurrency int
	// Scheduler also runs the periodic-task scheduler (several may: see
	// PeriodicOptions).
	Scheduler bool
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
	scheduler *scheduler
	handler   asynq.Handler
	logger    *slog.Logger
}

// NewWorker builds a worker on rdb for Tasks; closing rdb is the caller's
// job.
func NewWorker(rdb *redis.Client, h *Handlers, opts WorkerOptions) (*Worker, error) {
	return newWorker(rdb, h, opts, Tasks)
}

// newWorker is NewWorker for tasks (the tests' own).
func newWorker(rdb *redis.Client, h *Handlers, opts WorkerOptions, tasks []Task) (*Worker, error) {
	logger := opts.Logger.With("component", "worker")
	server := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     opts.Concurrency,
		Queues:          Queues,
		ShutdownTimeout: opts.ShutdownTimeout,
		Logger:          asynqLogger{logger},
		LogLevel:        asynq.WarnLevel,
		RetryDelayFunc:  retryDelay,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			// The task's own span has ended; its log line and report
			// carry the trace it belonged to.
			ctx = telemetry.Extract(ctx, t.Headers())
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, _ := asynq.GetMaxRetry(ctx)
			logger.ErrorContext(ctx, "task failed", "type", t.Type(), "task_id", taskID(ctx), "retry", retried, "max_retry", maxRetry, "err", err)
			if opts.OnTaskFailed != nil && (retried >= maxRetry || errors.Is(err, asynq.SkipRetry)) {
				opts.OnTaskFailed(ctx, t.Type(), taskID(ctx), err)
			}
		}),
	})
	w := &Worker{server: server, handler: h.mux(tasks), logger: logger}
	if opts.Scheduler {
		s, err := newScheduler(rdb, tasks, opts.Logger.With("component", "scheduler"))
		if err != nil {
			return nil, err
		}
		w.scheduler = s
	}
	return w, nil
}

// Start begins processing (and scheduling) in the background.
func (w *Worker) Start() error {
	if err := w.server.Start(w.handler); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if w.scheduler != nil {
		w.scheduler.start()
	}
	w.logger.Info("worker started", "scheduler", w.scheduler != nil)
	return nil
}

// Shutdown stops taking tasks, waits for running ones up to the shutdown
// timeout and hands the rest back to the queue.
func (w *Worker) Shutdown() {
	if w.scheduler != nil {
		w.scheduler.shutdown()
	}
	w.server.Shutdown()
	w.logger.Info("worker stopped")
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }

// Fatal is called by asynq only on unrecoverable start-up errors; it logs
// instead of exiting so the caller's error path and shutdown still run.
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }

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
