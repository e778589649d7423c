package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/outbox"
)

// storedFile is a row of stored_files (migrations/*/00014_files.sql): an
// object some record owns.
type storedFile struct {
	ID        uint
	ObjectKey string
	CreatedAt time.Time
}

func (storedFile) TableName() string { return "stored_files" }

// TaskDelete is the task that deletes released objects (payload
// DeletePayload), queued through the outbox by Release.
const TaskDelete = "storage:delete"

// DeletePayload is the payload of TaskDelete.
type DeletePayload struct {
	Keys []string `json:"keys"`
}

// Track records, in tx, that keys are owned by a record: write it in the
// transaction that gives them to it. A key already tracked is no error.
func Track(tx *gorm.DB, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	rows := make([]storedFile, 0, len(keys))
	now := time.Now().UTC()
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
		rows = append(rows, storedFile{ObjectKey: k, CreatedAt: now})
	}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return fmt.Errorf("storage: track: %w", err)
	}
	return nil
}

// Release forgets keys, in tx, and queues the deletion of their objects
// through the outbox: they go once tx commits and a worker takes the
// task, which is retried until the store answers. Empty keys are
// skipped.
func Release(tx *gorm.DB, keys ...string) error {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	if len(keys) == 0 {
		return nil
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	if err := tx.Where("object_key IN ?", keys).Delete(&storedFile{}).Error; err != nil {
		return fmt.Errorf("storage: release: %w", err)
	}
	payload, err := json.Marshal(DeletePayload{Keys: keys})
	if err != nil {
		return err
	}
	return outbox.Add(tx, TaskDelete, payload)
}

// Files deletes released objects and sweeps away the ones no record
// owns; the worker's storage tasks call it.
type Files struct {
	DB     *gorm.DB
	Store  Store
	Logger *slog.Logger
}

// Delete deletes the objects of keys; it fails on the first the store
// refuses, and a retry deletes the rest (deleting twice is no error).
func (f *Files) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if !ValidKey(k) {
			continue // nothing this package stored
		}
		if err := f.Store.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// SweepGrace is how old an object nobody tracks must be before Sweep
// deletes it: an upload is tracked within its request, so a day-old
// untracked object belongs to a record that was never committed.
const SweepGrace = 24 * time.Hour

// sweepBatch is how many keys one query checks.
const sweepBatch = 200

// Sweep deletes every object older than grace (at now) that no row of
// stored_files names, and reports how many it deleted.
func (f *Files) Sweep(ctx context.Context, now time.Time, grace time.Duration) (int, error) {
	deleted := 0
	var batch []string
	check := func() error {
		if len(batch) == 0 {
			return nil
		}
		var owned []string
		if err := f.DB.WithContext(ctx).Model(&storedFile{}).Where("object_key IN ?", batch).Pluck("object_key", &owned).Error; err != nil {
			return fmt.Errorf("storage: sweep: %w", err)
		}
		for _, k := range batch {
			if slices.Contains(owned, k) {
				continue
			}
			if err := f.Store.Delete(ctx, k); err != nil {
				return err
			}
			deleted++
			f.Logger.InfoContext(ctx, "storage: deleted an object no record owns", "key", k)
		}
		batch = batch[:0]
		return nil
	}
	if t, ok := f.Store.(interface{ PurgeTemp(time.Time) (int, error) }); ok {
		if n, err := t.PurgeTemp(now.Add(-grace)); err != nil {
			return 0, err
		} else if n > 0 {
			f.Logger.InfoContext(ctx, "storage: removed unfinished uploads", "count", n)
		}
	}
	err := f.Store.List(ctx, func(o Object) error {
		if now.Sub(o.Modified) < grace {
			return nil
		}
		batch = append(batch, o.Key)
		if len(batch) == sweepBatch {
			return check()
		}
		return nil
	})
	if err == nil {
		err = check()
	}
	return deleted, err
}

// Tracked reports whether key is owned by a record.
func (f *Files) Tracked(ctx context.Context, key string) (bool, error) {
	var n int64
	err := f.DB.WithContext(ctx).Model(&storedFile{}).Where("object_key = ?", key).Count(&n).Error
	return n > 0, err
}

// errNoStore is the error of an unknown STORAGE_BACKEND.
var errNoStore = errors.New("storage: no such backend")
