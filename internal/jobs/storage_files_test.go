package jobs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

func localFiles(t *testing.T, g *gorm.DB) (*storage.Files, *storage.Local) {
	t.Helper()
	l, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &storage.Files{DB: g, Store: l, Logger: discard}, l
}

func putFile(t *testing.T, l *storage.Local, key string, modified time.Time) {
	t.Helper()
	if err := l.Put(t.Context(), key, strings.NewReader(key), int64(len(key)), storage.TypeOfKey(key)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(l.Dir(), key), modified, modified); err != nil {
		t.Fatal(err)
	}
}

func stored(t *testing.T, l *storage.Local, key string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(l.Dir(), key))
	return err == nil
}

// TestStorageDeleteTaskDeletesWhatReleaseQueued: the payload Release
// writes to the outbox is the one the task reads, and deletes its keys.
func TestStorageDeleteTaskDeletesWhatReleaseQueued(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	files, l := localFiles(t, d.Gorm)
	for _, k := range []string{"avatars/a.png", "avatars/a-64.png", "avatars/kept.png"} {
		putFile(t, l, k, time.Now())
	}
	if err := d.Gorm.Transaction(func(tx *gorm.DB) error {
		return storage.Release(tx, "avatars/a.png", "avatars/a-64.png", "avatars/gone-already.png")
	}); err != nil {
		t.Fatal(err)
	}
	var row struct {
		TaskType string
		Payload  []byte
	}
	if err := d.Gorm.Table("outbox").Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	h := &jobs.Handlers{Files: files, Logger: discard}
	if err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(row.TaskType, row.Payload)); err != nil {
		t.Fatal(err)
	}
	if stored(t, l, "avatars/a.png") || stored(t, l, "avatars/a-64.png") || !stored(t, l, "avatars/kept.png") {
		t.Error("the task deleted the wrong objects")
	}
	// Delivered twice (asynq delivers at least once): no error.
	if err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(row.TaskType, row.Payload)); err != nil {
		t.Errorf("the second delivery: %v", err)
	}
}

// refusingStore is a store that cannot delete (it is away).
type refusingStore struct{ storage.Store }

func (refusingStore) Delete(context.Context, string) error { return errors.New("503 slow down") }

func TestStorageDeleteFailureIsRetried(t *testing.T) {
	files, l := localFiles(t, nil)
	files.Store = refusingStore{l}
	h := &jobs.Handlers{Files: files, Logger: discard}
	err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(jobs.TypeStorageDelete, []byte(`{"keys":["avatars/a.png"]}`)))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("a store that refuses must fail the task for a retry, got %v", err)
	}
}

func TestStorageDeleteWithABadPayloadIsNotRetried(t *testing.T) {
	files, _ := localFiles(t, nil)
	h := &jobs.Handlers{Files: files, Logger: discard}
	for _, payload := range []string{"{", `{"keys":"avatars/a.png"}`, `[1,2]`, ""} {
		err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(jobs.TypeStorageDelete, []byte(payload)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("payload %q: err = %v, want SkipRetry", payload, err)
		}
	}
	// Keys this app never made are skipped, not tried.
	err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(jobs.TypeStorageDelete, []byte(`{"keys":["../../etc/passwd",""]}`)))
	if err != nil {
		t.Errorf("invalid keys: %v", err)
	}
}

func TestStorageSweepTaskDeletesOldUntrackedObjects(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			files, l := localFiles(t, d.Gorm)
			old := time.Now().Add(-storage.SweepGrace - time.Hour)
			putFile(t, l, "docs/tracked.pdf", old)
			putFile(t, l, "docs/orphan.pdf", old)
			putFile(t, l, "docs/young.pdf", time.Now().Add(-time.Hour))
			if err := storage.Track(d.Gorm, "docs/tracked.pdf"); err != nil {
				t.Fatal(err)
			}
			h := &jobs.Handlers{Files: files, Logger: discard}
			if err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(jobs.TypeStorageSweep, nil)); err != nil {
				t.Fatal(err)
			}
			if !stored(t, l, "docs/tracked.pdf") || stored(t, l, "docs/orphan.pdf") || !stored(t, l, "docs/young.pdf") {
				t.Errorf("after the sweep: tracked %v, orphan %v, young %v; want true, false, true",
					stored(t, l, "docs/tracked.pdf"), stored(t, l, "docs/orphan.pdf"), stored(t, l, "docs/young.pdf"))
			}
		})
	}
}

func TestStorageSweepFailureIsReturned(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	files, l := localFiles(t, d.Gorm)
	putFile(t, l, "docs/orphan.pdf", time.Now().Add(-2*storage.SweepGrace))
	files.Store = refusingStore{l}
	h := &jobs.Handlers{Files: files, Logger: discard}
	err := h.Mux().ProcessTask(t.Context(), asynq.NewTask(jobs.TypeStorageSweep, nil))
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("a sweep the store refuses: %v, want an error to retry", err)
	}
}

// TestStorageTasksAreRegistered: deletions are retried on the low queue;
// the sweep runs daily.
func TestStorageTasksAreRegistered(t *testing.T) {
	found := map[string]jobs.Task{}
	for _, task := range jobs.Tasks {
		found[task.Type] = task
	}
	del, ok := found[jobs.TypeStorageDelete]
	if !ok || del.Schedule != "" {
		t.Errorf("storage:delete: registered %v, schedule %q", ok, del.Schedule)
	}
	options := map[asynq.OptionType]any{}
	for _, o := range del.Options {
		options[o.Type()] = o.Value()
	}
	if options[asynq.QueueOpt] != jobs.QueueLow || options[asynq.MaxRetryOpt] != 10 {
		t.Errorf("storage:delete options = %v, want the low queue and 10 retries", options)
	}
	if sweep, ok := found[jobs.TypeStorageSweep]; !ok || sweep.Schedule != "@daily" {
		t.Errorf("storage:sweep: registered %v, schedule %q", ok, sweep.Schedule)
	}
}
