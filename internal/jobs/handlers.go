package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/metrics"
	"github.com/launchkit/launchkit/internal/ratelimit"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// Handlers holds what the task handlers need.
type Handlers struct {
	Mailer mail.Mailer
	DB     *db.DB
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
}

// Mux routes each task type to its handler.
func (h *Handlers) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	if h.Metrics != nil {
		mux.Use(h.observe)
	}
	mux.HandleFunc(TypeMailSend, h.sendMail)
	mux.HandleFunc(users.TaskAccountMail, h.sendAccountMail)
	mux.HandleFunc(TypeSessionsPurge, h.purgeSessions)
	return mux
}

func (h *Handlers) sendMail(ctx context.Context, t *asynq.Task) error {
	var m mail.Message
	if err := json.Unmarshal(t.Payload(), &m); err != nil {
		// A payload that cannot be read will never be readable: no retry.
		return fmt.Errorf("mail:send payload: %v: %w", err, asynq.SkipRetry)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("mail:send: %v: %w", err, asynq.SkipRetry)
	}
	if err := h.Mailer.Send(ctx, m); err != nil {
		return err // retried with asynq's backoff
	}
	h.Logger.InfoContext(ctx, "mail sent", "task_id", taskID(ctx), "recipients", len(m.To))
	return nil
}

func (h *Handlers) purgeSessions(ctx context.Context, _ *asynq.Task) error {
	n, err := session.PurgeExpired(ctx, h.DB)
	if err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "expired sessions purged", "count", n)
	return nil
}

// observe records each task's result and duration.
func (h *Handlers) observe(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		h.Metrics.ObserveTask(t.Type(), err, time.Since(start))
		return err
	})
}

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}
