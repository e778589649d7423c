// Package jobs runs Launchkit's background work on asynq: the task types
// and their typed payloads, the handlers, the queue client the web layer
// enqueues through, the worker (asynq server plus the periodic-task
// scheduler) and the embedded in-memory Redis used in development.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/launchkit/launchkit/internal/mail"
)

// Task types. The name is the contract between the process that enqueues
// and the one that handles, so rename with care.
const (
	TypeMailSend      = "mail:send"
	TypeSessionsPurge = "sessions:purge"
)

// Queue names, highest priority first.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Queues weighs the queues for the worker: of ten tasks picked, about six
// come from critical, three from default and one from low.
var Queues = map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1}

// NewMailSendTask makes the task that sends m.
func NewMailSendTask(m mail.Message) (*asynq.Task, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("mail:send: %w", err)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeMailSend, payload, asynq.Queue(QueueCritical), asynq.MaxRetry(10), asynq.Timeout(2*time.Minute)), nil
}

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	asynq *asynq.Client
}

// NewClient enqueues through rdb; closing rdb is the caller's job.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{asynq: asynq.NewClientFromRedisClient(rdb)}
}

// EnqueueMail queues m for sending by a worker.
func (c *Client) EnqueueMail(ctx context.Context, m mail.Message) error {
	task, err := NewMailSendTask(m)
	if err != nil {
		return err
	}
	if _, err := c.asynq.EnqueueContext(ctx, task); err != nil {
		return fmt.Errorf("enqueue mail:send: %w", err)
	}
	return nil
}
