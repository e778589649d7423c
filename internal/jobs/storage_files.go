package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/storage"
)

// TypeStorageDelete deletes the objects a record let go of
// (storage.Release queues it through the outbox, in the transaction that
// lets them go): retried until the store answers, so no file is lost
// track of.
const TypeStorageDelete = storage.TaskDelete

var storageDeleteTask = Task{
	Type:    TypeStorageDelete,
	Options: standardRetries(QueueLow),
	Handle:  (*Handlers).deleteStoredFiles,
}

func (h *Handlers) deleteStoredFiles(ctx context.Context, t *asynq.Task) error {
	p, err := payloadOf[storage.DeletePayload](t)
	if err != nil {
		return err
	}
	if err := h.Files.Delete(ctx, p.Keys); err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "stored files deleted", "count", len(p.Keys))
	return nil
}

// TypeStorageSweep deletes, every day, the stored objects that no record
// owns and that are older than storage.SweepGrace: uploads whose record
// was never committed.
const TypeStorageSweep = "storage:sweep"

var storageSweepTask = Task{
	Type:    TypeStorageSweep,
	Options: []asynq.Option{asynq.Queue(QueueLow), asynq.MaxRetry(3), asynq.Timeout(30 * time.Minute)},
	Handle:  (*Handlers).sweepStoredFiles, Schedule: "@daily",
}

func (h *Handlers) sweepStoredFiles(ctx context.Context, _ *asynq.Task) error {
	n, err := h.Files.Sweep(ctx, time.Now(), storage.SweepGrace)
	if err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "stored files no record owns swept", "count", n)
	return nil
}
