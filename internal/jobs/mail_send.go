package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/mail"
)

// TypeMailSend sends one ready-made message (payload: a mail.Message).
const TypeMailSend = "mail:send"

var mailSendTask = Task{Type: TypeMailSend, Options: standardRetries(QueueCritical), Handle: (*Handlers).sendMail}

// NewMailSendTask makes the task that sends m.
func NewMailSendTask(m mail.Message) (*asynq.Task, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", TypeMailSend, err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeMailSend, b, mailSendTask.Options...), nil
}

// EnqueueMail queues m for sending by a worker.
func (c *Client) EnqueueMail(ctx context.Context, m mail.Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%s: %w", TypeMailSend, err)
	}
	return c.Enqueue(ctx, TypeMailSend, m)
}

func (h *Handlers) sendMail(ctx context.Context, t *asynq.Task) error {
	m, err := payloadOf[mail.Message](t)
	if err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%s: %v: %w", TypeMailSend, err, asynq.SkipRetry)
	}
	if err := h.Mailer.Send(ctx, m); err != nil {
		return err // retried with asynq's backoff
	}
	h.Logger.InfoContext(ctx, "mail sent", "task_id", taskID(ctx), "recipients", len(m.To))
	return nil
}
