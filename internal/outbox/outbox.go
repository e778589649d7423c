// Package outbox makes a background task part of a database transaction.
// Add writes the task into the outbox table inside the transaction that
// makes the change it belongs to (an account and its confirmation mail),
// so the two are committed together or not at all. The Relay then moves
// rows to the queue — at once after the commit when Redis answers, and
// otherwise from its loop once Redis is back — and deletes them.
//
// A row is enqueued under the task ID it was written with, and asynq
// refuses a second task with an ID it still holds (Retention keeps
// finished tasks' IDs for a day): two relays sending the same row, or a
// relay that dies between enqueueing and deleting, cause no second run.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/telemetry"
)

// row is a row of the outbox table (migrations/*/00006_outbox.sql).
type row struct {
	ID        uint
	TaskID    string
	TaskType  string
	Payload   []byte
	CreatedAt time.Time
	// TraceHeaders carry the trace of the change that wrote the row
	// (telemetry.Inject as JSON), "" when it had none.
	TraceHeaders string
}

func (row) TableName() string { return "outbox" }

// Add writes a task of taskType with payload into tx's outbox; it reaches
// the queue once tx commits and a Relay sends it, with the options the
// Relay gives that type.
//
// When tx's context is in a trace, the row keeps it, and the task the
// relay queues, whenever and wherever it does, continues that trace.
func Add(tx *gorm.DB, taskType string, payload []byte) error {
	r := &row{TaskID: "outbox-" + rand.Text(), TaskType: taskType, Payload: payload, CreatedAt: time.Now().UTC()}
	if tx.Statement != nil && tx.Statement.Context != nil {
		r.TraceHeaders = traceHeaders(tx.Statement.Context)
	}
	if err := tx.Create(r).Error; err != nil {
		return fmt.Errorf("outbox: add %s: %w", taskType, err)
	}
	return nil
}

// Relay moves committed outbox rows to the queue.
type Relay struct {
	// SendTimeout bounds Send: a request does not wait long on a Redis
	// that does not answer; the loop retries. NewRelay sets 2s.
	SendTimeout time.Duration
	// RunTimeout bounds each round of Run. NewRelay sets 30s.
	RunTimeout time.Duration

	db      *gorm.DB
	client  *asynq.Client
	options func(taskType string) []asynq.Option
	logger  *slog.Logger
	mu      sync.Mutex  // one flush at a time in this process
	again   atomic.Bool // rows were committed since the running flush read
}

// NewRelay relays the outbox of g to the queue on rdb; options gives the
// asynq options of each task type (queue, retries, timeout).
func NewRelay(g *gorm.DB, rdb redis.UniversalClient, options func(taskType string) []asynq.Option, logger *slog.Logger) *Relay {
	return &Relay{
		SendTimeout: 2 * time.Second, RunTimeout: 30 * time.Second,
		db: g, client: asynq.NewClientFromRedisClient(rdb), options: options, logger: logger,
	}
}

// Retention is how long the queue keeps a finished task's ID, and so
// refuses to run a row relayed again.
const Retention = 24 * time.Hour

// batch is how many rows one Flush moves at most.
const batch = 100

// Flush moves up to 100 pending rows to the queue, oldest first, and
// reports how many it moved. It stops at the first row the queue refuses
// for any reason but a duplicate ID (Redis down): that row and the rest
// wait.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flush(ctx)
}

// drain flushes until no rows are left, then releases mu, which the
// caller took; however it ends (a panic too), mu is released.
func (r *Relay) drain(ctx context.Context) (int, error) {
	defer r.mu.Unlock()
	total := 0
	for {
		r.again.Store(false)
		n, err := r.flush(ctx)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// maxPasses bounds how often one relay call drains again for rows that
// were committed while it ran: under a steady stream of requests the
// next request's Send takes over, and the relay's loop catches the last.
const maxPasses = 4

// pass drains the outbox, taking mu first (waiting for it when wait is
// set, else leaving the work to whoever holds it), and drains again while
// a Send that found mu taken (again) asks for it, at most maxPasses times.
func (r *Relay) pass(ctx context.Context, wait bool) (int, error) {
	if wait {
		r.mu.Lock()
	} else if !r.mu.TryLock() {
		return 0, nil
	}
	total := 0
	for range maxPasses {
		n, err := r.drain(ctx)
		total += n
		// A Send that came between the last read and the unlock found
		// mu taken: its row is for us.
		if err != nil || !r.again.Load() || !r.mu.TryLock() {
			return total, err
		}
	}
	r.mu.Unlock()
	return total, nil
}

func (r *Relay) flush(ctx context.Context) (int, error) {
	var rows []row
	if err := r.db.WithContext(ctx).Order("id").Limit(batch).Find(&rows).Error; err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	moved := 0
	for _, row := range rows {
		if err := r.enqueue(ctx, row); err != nil {
			return moved, err
		}
		if err := r.db.WithContext(ctx).Delete(&row).Error; err != nil {
			return moved, fmt.Errorf("outbox: delete a sent row: %w", err)
		}
		moved++
	}
	return moved, nil
}

// enqueue queues row's task, in a span of the trace the row was written
// in (when it was), whose context the task carries on to the worker.
func (r *Relay) enqueue(ctx context.Context, row row) (err error) {
	ctx, span := telemetry.StartEnqueue(telemetry.Extract(ctx, readTraceHeaders(row.TraceHeaders)), row.TaskType)
	defer func() { telemetry.End(span, err) }()
	opts := append(r.options(row.TaskType), asynq.TaskID(row.TaskID), asynq.Retention(Retention))
	_, err = r.client.EnqueueContext(ctx, asynq.NewTaskWithHeaders(row.TaskType, row.Payload, telemetry.Inject(ctx)), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("outbox: enqueue %s: %w", row.TaskType, err)
	}
	return nil
}

// maxTraceHeaders is the size of the trace_headers column.
const maxTraceHeaders = 1024

// traceHeaders is the trace of ctx as the trace_headers column keeps it:
// traceparent and tracestate as JSON (baggage is not kept), or "".
func traceHeaders(ctx context.Context) string {
	h := telemetry.Inject(ctx)
	if h["traceparent"] == "" {
		return ""
	}
	keep := map[string]string{"traceparent": h["traceparent"]}
	if ts := h["tracestate"]; ts != "" {
		keep["tracestate"] = ts
	}
	b, err := json.Marshal(keep)
	if err != nil || len(b) > maxTraceHeaders {
		b, _ = json.Marshal(map[string]string{"traceparent": h["traceparent"]})
	}
	return string(b)
}

// readTraceHeaders reads the trace_headers column; anything unreadable
// is no trace.
func readTraceHeaders(s string) map[string]string {
	if s == "" {
		return nil
	}
	var h map[string]string
	if json.Unmarshal([]byte(s), &h) != nil {
		return nil
	}
	return h
}

// Pending counts the rows not yet moved to the queue.
func (r *Relay) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := r.db.WithContext(ctx).Model(&row{}).Count(&n).Error
	return n, err
}

// Send is for a request that has just committed a row: it moves the
// pending rows to the queue, trying for at most SendTimeout and leaving a
// failure (logged) to the loop. When a flush is already running in this
// process it does not wait for it: it asks it to go round once more, for
// the new row, and returns at once.
func (r *Relay) Send(ctx context.Context) {
	r.again.Store(true)
	ctx, cancel := context.WithTimeout(ctx, r.SendTimeout)
	defer cancel()
	if _, err := r.pass(ctx, false); err != nil {
		r.logger.WarnContext(ctx, "outbox: could not send now; the relay will retry", "err", err)
	}
}

// round is one round of Run: every pending row, within RunTimeout.
func (r *Relay) round(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.RunTimeout)
	defer cancel()
	return r.pass(ctx, true)
}

// Run sends every pending row every interval until ctx ends, so rows
// written while Redis was away reach the queue when it is back.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.round(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			r.logger.Warn("outbox: relay cannot reach the queue; retrying", "err", err)
			failing = true
		case err == nil && failing:
			r.logger.Info("outbox: relay reaches the queue again", "sent", n)
			failing = false
		}
	}
}
