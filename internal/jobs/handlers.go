package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/metrics"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/users"
)

// Handlers holds what the task handlers need: the domain packages'
// services (a handler works through them, never on their tables), the
// mailer and the logger. App.Handlers (internal/app) fills it in.
type Handlers struct {
	Mailer mail.Mailer
	Logger *slog.Logger
	// Metrics, when set, records every task run.
	Metrics *metrics.Metrics
	// Users, Templates, AppName and BaseURL make account mail.
	Users     *users.Service
	Templates *mail.Templates
	AppName   string
	BaseURL   string
	// Limits keeps each address's account-mail budget
	// (mailsPerRecipient); nil keeps none.
	Limits *ratelimit.Limiter
	// Sessions purges the expired sessions of the database store.
	Sessions *session.Purger
	// SessionRegistry is purged of the rows of ended sessions with them;
	// nil purges none.
	SessionRegistry *session.Registry
	// Events is the security log, whose events older than
	// SecurityLogRetention (SECURITY_LOG_RETENTION) the daily
	// security-log:purge task deletes; nil purges nothing.
	Events               *seclog.Log
	SecurityLogRetention time.Duration
	// Files deletes released uploads and sweeps away the ones no record
	// owns.
	Files *storage.Files
	// (go run ./tools/scaffold adds its resources' services here.)
	// scaffold:handlers
}

// Mux routes each task type of Tasks to its handler.
func (h *Handlers) Mux() *asynq.ServeMux { return h.mux(Tasks) }

// mux routes each task type of tasks to its handler.
func (h *Handlers) mux(tasks []Task) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(traceTask)
	if h.Metrics != nil {
		mux.Use(h.observe)
	}
	for _, t := range tasks {
		handle := t.Handle
		mux.HandleFunc(t.Type, func(ctx context.Context, task *asynq.Task) error { return handle(h, ctx, task) })
	}
	return mux
}

// observe records each task's result and duration.
func (h *Handlers) observe(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		h.Metrics.ObserveTask(ctx, t.Type(), err, time.Since(start))
		return err
	})
}

// traceTask runs each task in a span that continues the trace of the
// request (or task) that queued it, from the task's headers; its log
// lines carry that trace. With tracing off it only calls the handler.
func traceTask(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if !telemetry.On() {
			return next.ProcessTask(ctx, t)
		}
		ctx, span := telemetry.StartTask(ctx, t.Type(), taskID(ctx), t.Headers())
		if n, ok := asynq.GetRetryCount(ctx); ok && n > 0 {
			span.SetAttributes(attribute.Int("asynq.retry", n))
		}
		if q, ok := asynq.GetQueueName(ctx); ok {
			span.SetAttributes(attribute.String("asynq.queue", q))
		}
		err := next.ProcessTask(ctx, t)
		telemetry.End(span, err)
		return err
	})
}

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}
