package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
)

var discard = slog.New(slog.DiscardHandler)

// outboxTask is a row of the outbox, as Release writes it.
type outboxTask struct {
	TaskType string
	Payload  []byte
}

func outboxTasks(t *testing.T, g *gorm.DB) []outboxTask {
	t.Helper()
	var rows []outboxTask
	if err := g.Table("outbox").Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

func tracked(t *testing.T, f *storage.Files, key string) bool {
	t.Helper()
	ok, err := f.Tracked(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestTrackAndRelease: Track records keys in the caller's transaction;
// Release forgets them and queues their deletion through the outbox in
// the same transaction, so a rollback undoes both.
func TestTrackAndRelease(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			f := &storage.Files{DB: d.Gorm, Store: localStore(t), Logger: discard}

			if err := d.Gorm.Transaction(func(tx *gorm.DB) error {
				return storage.Track(tx, "avatars/a.png", "avatars/a-64.png", "docs/b.pdf")
			}); err != nil {
				t.Fatal(err)
			}
			if err := d.Gorm.Transaction(func(tx *gorm.DB) error {
				return storage.Track(tx, "avatars/a.png") // again: no error
			}); err != nil {
				t.Errorf("tracking a tracked key: %v", err)
			}
			if err := storage.Track(d.Gorm, "docs/twice.pdf", "docs/twice.pdf"); err != nil || !tracked(t, f, "docs/twice.pdf") {
				t.Errorf("a key twice in one call: %v", err)
			}
			if err := storage.Track(d.Gorm); err != nil {
				t.Errorf("tracking nothing: %v", err)
			}
			for _, k := range []string{"avatars/a.png", "avatars/a-64.png", "docs/b.pdf"} {
				if !tracked(t, f, k) {
					t.Errorf("%s is not tracked", k)
				}
			}
			if tracked(t, f, "docs/other.pdf") {
				t.Error("an untracked key is tracked")
			}
			if err := storage.Track(d.Gorm, "docs/ok.pdf", "../escape"); err == nil {
				t.Error("Track of an invalid key = nil")
			}
			if tracked(t, f, "docs/ok.pdf") {
				t.Error("Track wrote the valid keys of a call it refused")
			}

			// A transaction that releases and then fails changes nothing.
			failed := errors.New("the record's update failed")
			if err := d.Gorm.Transaction(func(tx *gorm.DB) error {
				if err := storage.Release(tx, "docs/b.pdf"); err != nil {
					return err
				}
				return failed
			}); !errors.Is(err, failed) {
				t.Fatal(err)
			}
			if !tracked(t, f, "docs/b.pdf") || len(outboxTasks(t, d.Gorm)) != 0 {
				t.Error("a rolled-back Release forgot the key or queued its deletion")
			}

			if err := d.Gorm.Transaction(func(tx *gorm.DB) error {
				return storage.Release(tx, "avatars/a.png", "", "avatars/a-64.png", "never/tracked.png")
			}); err != nil {
				t.Fatal(err)
			}
			if tracked(t, f, "avatars/a.png") || tracked(t, f, "avatars/a-64.png") || !tracked(t, f, "docs/b.pdf") {
				t.Error("Release forgot the wrong keys")
			}
			tasks := outboxTasks(t, d.Gorm)
			if len(tasks) != 1 || tasks[0].TaskType != storage.TaskDelete {
				t.Fatalf("outbox = %+v, want one %s", tasks, storage.TaskDelete)
			}
			var p storage.DeletePayload
			if err := json.Unmarshal(tasks[0].Payload, &p); err != nil {
				t.Fatal(err)
			}
			if want := []string{"avatars/a.png", "avatars/a-64.png", "never/tracked.png"}; !slices.Equal(p.Keys, want) {
				t.Errorf("payload keys = %v, want %v", p.Keys, want)
			}

			// Nothing to release: no task.
			if err := storage.Release(d.Gorm, "", ""); err != nil {
				t.Error(err)
			}
			if err := storage.Release(d.Gorm, "../../etc/passwd"); err == nil {
				t.Error("Release of an invalid key = nil")
			}
			if n := len(outboxTasks(t, d.Gorm)); n != 1 {
				t.Errorf("%d tasks, want still 1", n)
			}
		})
	}
}

// age sets the modification time of a Local object, which Local reports
// as the object's Modified.
func age(t *testing.T, l *storage.Local, key string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(filepath.Join(l.Dir(), key), at, at); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, s storage.Store, key string) bool {
	t.Helper()
	body, _, err := s.Open(t.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		return false
	} else if err != nil {
		t.Fatal(err)
	}
	body.Close()
	return true
}

// TestSweep: an object no record owns goes once it is older than the
// grace; tracked ones and young ones stay, whatever their number.
func TestSweep(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			l := localStore(t)
			f := &storage.Files{DB: d.Gorm, Store: l, Logger: discard}
			now := time.Now().UTC()
			old := now.Add(-storage.SweepGrace - time.Hour)

			// More objects than one sweep batch (200), every other tracked.
			var keep, gone []string
			for i := range 450 {
				k := fmt.Sprintf("docs/f%03d.bin", i)
				put(t, l, k, []byte{byte(i)})
				age(t, l, k, old)
				if i%2 == 0 {
					keep = append(keep, k)
				} else {
					gone = append(gone, k)
				}
			}
			if err := storage.Track(d.Gorm, keep...); err != nil {
				t.Fatal(err)
			}
			put(t, l, "docs/young.bin", []byte("uploaded a minute ago"))
			age(t, l, "docs/young.bin", now.Add(-time.Minute))

			n, err := f.Sweep(t.Context(), now, storage.SweepGrace)
			if err != nil || n != len(gone) {
				t.Fatalf("Sweep = %d, %v; want %d", n, err, len(gone))
			}
			for _, k := range keep {
				if !exists(t, l, k) {
					t.Fatalf("tracked %s was swept", k)
				}
			}
			for _, k := range gone {
				if exists(t, l, k) {
					t.Fatalf("untracked %s was kept", k)
				}
			}
			if !exists(t, l, "docs/young.bin") {
				t.Fatal("a young object was swept")
			}

			// A day later the young one is old enough.
			n, err = f.Sweep(t.Context(), now.Add(storage.SweepGrace), storage.SweepGrace)
			if err != nil || n != 1 || exists(t, l, "docs/young.bin") {
				t.Errorf("the day after: Sweep = %d, %v; young.bin there: %v", n, err, exists(t, l, "docs/young.bin"))
			}
			if n, err := f.Sweep(t.Context(), now.Add(storage.SweepGrace), storage.SweepGrace); err != nil || n != 0 {
				t.Errorf("a sweep with nothing to do = %d, %v", n, err)
			}
		})
	}
}

// TestSweepS3 sweeps a bucket, under a prefix, without touching what is
// outside it.
func TestSweepS3(t *testing.T) {
	fake := testenv.StartS3(t)
	fake.Setenv(t)
	open := func(prefix string) *storage.S3 { return openS3(t, fake, prefix) }
	s, bare := open("app/"), open("")
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	f := &storage.Files{DB: d.Gorm, Store: s, Logger: discard}

	fake.Backdate(2 * storage.SweepGrace)
	put(t, s, "docs/tracked.pdf", []byte("%PDF"))
	put(t, s, "docs/orphan.pdf", []byte("%PDF"))
	put(t, bare, "docs/another-apps.pdf", []byte("%PDF"))
	fake.Backdate(0)
	put(t, s, "docs/young.pdf", []byte("%PDF"))
	if err := storage.Track(d.Gorm, "docs/tracked.pdf"); err != nil {
		t.Fatal(err)
	}
	n, err := f.Sweep(t.Context(), time.Now(), storage.SweepGrace)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	for key, want := range map[string]bool{"docs/tracked.pdf": true, "docs/orphan.pdf": false, "docs/young.pdf": true} {
		if exists(t, s, key) != want {
			t.Errorf("%s there: %v, want %v", key, !want, want)
		}
	}
	if !exists(t, bare, "docs/another-apps.pdf") {
		t.Error("the sweep deleted an object outside its prefix")
	}
}

// failingStore refuses every delete, as a store that is away would.
type failingStore struct{ storage.Store }

var errStoreAway = errors.New("the store is away")

func (failingStore) Delete(context.Context, string) error { return errStoreAway }

// TestFilesDelete deletes every key, stops at the store's first refusal
// (the task is retried), and skips keys this package never made.
func TestFilesDelete(t *testing.T) {
	t.Parallel()
	l := localStore(t)
	f := &storage.Files{Store: l, Logger: discard}
	put(t, l, "docs/a.pdf", []byte("a"))
	put(t, l, "docs/b.pdf", []byte("b"))
	if err := f.Delete(t.Context(), []string{"docs/a.pdf", "../../etc/passwd", "docs/b.pdf", "docs/never.pdf"}); err != nil {
		t.Fatal(err)
	}
	if exists(t, l, "docs/a.pdf") || exists(t, l, "docs/b.pdf") {
		t.Error("an object is left")
	}
	f.Store = failingStore{l}
	if err := f.Delete(t.Context(), []string{"docs/a.pdf"}); !errors.Is(err, errStoreAway) {
		t.Errorf("err = %v, want the store's", err)
	}
}
