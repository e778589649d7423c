package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// A Task is one kind of background work. Each lives in a file of its own
// (its type name, payload, handler and, for periodic work, its schedule)
// and is listed in Tasks: adding a task is that file plus one line.
type Task struct {
	// Type names the task between the process that enqueues it and the
	// one that handles it: rename with care, queued tasks keep the old.
	Type string
	// Options are its queue options: queue, retries, timeout.
	Options []asynq.Option
	// Handle does the work, with the worker's dependencies.
	Handle func(h *Handlers, ctx context.Context, t *asynq.Task) error
	// Schedule, when set, runs the task periodically on the scheduler: a
	// cron line in UTC, "@hourly"/"@daily", or "@every 10m" (all on the
	// clock, so that several schedulers agree; see PeriodicOptions). It
	// then takes no payload, and its Options should give retries that end
	// within one period: a failed period is left to the next one.
	Schedule string
}

// Tasks lists every task the worker handles, and the periodic ones the
// scheduler queues: the Celery beat of Launchkit.
var Tasks = []Task{
	mailSendTask,
	accountMailTask,
	sessionsPurgeTask,
	securityLogPurgeTask,
	alertMailTask,
	storageDeleteTask,
	storageSweepTask,
	avatarVariantsTask,
	// scaffold:tasks
}

// taskOf finds the Task of a type name.
func taskOf(taskType string) (Task, bool) {
	for _, t := range Tasks {
		if t.Type == taskType {
			return t, true
		}
	}
	return Task{}, false
}

// TaskOptions are the queue options of a task type (the outbox relay
// enqueues with them); an unknown type goes to the default queue.
func TaskOptions(taskType string) []asynq.Option {
	if t, ok := taskOf(taskType); ok {
		return t.Options
	}
	return []asynq.Option{asynq.Queue(QueueDefault)}
}

// Enqueue queues a task of taskType whose payload is payload as JSON,
// with the task's options.
func (c *Client) Enqueue(ctx context.Context, taskType string, payload any) error {
	t, ok := taskOf(taskType)
	if !ok {
		return fmt.Errorf("enqueue %s: no such task in jobs.Tasks", taskType)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", taskType, err)
	}
	ctx, span := telemetry.StartEnqueue(ctx, taskType)
	_, err = c.asynq.EnqueueContext(ctx, asynq.NewTaskWithHeaders(taskType, b, telemetry.Inject(ctx)), t.Options...)
	if err != nil {
		err = fmt.Errorf("enqueue %s: %w", taskType, err)
	}
	telemetry.End(span, err)
	return err
}

// payloadOf reads the JSON payload of t into a P. A payload that cannot
// be read never will be: the error says not to retry.
func payloadOf[P any](t *asynq.Task) (P, error) {
	var p P
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("%s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return p, nil
}

// standardRetries are the options of a task that must get done: ten
// tries over some hours, each within two minutes.
func standardRetries(queue string) []asynq.Option {
	return []asynq.Option{asynq.Queue(queue), asynq.MaxRetry(10), asynq.Timeout(2 * time.Minute)}
}
