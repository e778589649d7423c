package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// avatarSite is a database with a user, a local store and the handlers.
func avatarSite(t *testing.T) (*jobs.Handlers, *users.Service, *db.DB, *storage.Local, uint) {
	t.Helper()
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	svc := users.NewService(d)
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	u, err := svc.Create(t.Context(), "pic@example.com", "a long enough password 1", users.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	h := &jobs.Handlers{Users: svc, Files: &storage.Files{DB: d.Gorm, Store: store, Logger: discard}, Logger: discard}
	return h, svc, d, store, u.ID
}

// putJPEG stores a w × h JPEG under key.
func putJPEG(t *testing.T, store storage.Store, key string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), "image/jpeg"); err != nil {
		t.Fatal(err)
	}
}

func avatarTask(t *testing.T, id uint, key string) *asynq.Task {
	b, err := json.Marshal(users.AvatarPayload{UserID: id, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(jobs.TypeAvatarVariants, b)
}

func TestAvatarTaskMakesSquareCopies(t *testing.T) {
	h, svc, _, store, id := avatarSite(t)
	ctx := context.Background()
	key := storage.NewKey("avatars", "image/jpeg")
	putJPEG(t, store, key, 300, 200)
	if err := svc.SetAvatar(ctx, id, key); err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(ctx, avatarTask(t, id, key)); err != nil {
		t.Fatal(err)
	}
	for i, size := range users.AvatarSizes {
		copyKey := users.AvatarFiles(key)[i+1]
		body, obj, err := store.Open(ctx, copyKey)
		if err != nil {
			t.Fatalf("copy %d: %v", size, err)
		}
		cfg, format, err := image.DecodeConfig(body)
		body.Close()
		if err != nil || format != "jpeg" || cfg.Width != size || cfg.Height != size || obj.ContentType != "image/jpeg" {
			t.Errorf("copy %d: %s %d × %d %s (%v)", size, format, cfg.Width, cfg.Height, obj.ContentType, err)
		}
		if ok, err := h.Files.Tracked(ctx, copyKey); err != nil || !ok {
			t.Errorf("copy %d not tracked (%v)", size, err)
		}
	}
	if u, _ := svc.ByID(ctx, id); !u.AvatarVariants {
		t.Error("AvatarVariants not set")
	}
}

func TestAvatarTaskOfAReplacedPictureLeavesNothing(t *testing.T) {
	h, svc, _, store, id := avatarSite(t)
	ctx := context.Background()
	old := storage.NewKey("avatars", "image/jpeg")
	putJPEG(t, store, old, 100, 100)
	if err := svc.SetAvatar(ctx, id, old); err != nil {
		t.Fatal(err)
	}
	// Replaced before the worker took the first picture's task.
	if err := svc.SetAvatar(ctx, id, storage.NewKey("avatars", "image/jpeg")); err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(ctx, avatarTask(t, id, old)); err != nil {
		t.Fatal(err)
	}
	for _, k := range users.AvatarFiles(old)[1:] {
		if _, _, err := store.Open(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: %v, want it deleted", k, err)
		}
	}
	// The picture itself already gone: nothing to do, no error.
	if err := store.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(ctx, avatarTask(t, id, old)); err != nil {
		t.Fatal(err)
	}
}

func TestAvatarTaskWithABadPayloadIsNotRetried(t *testing.T) {
	h, _, _, store, id := avatarSite(t)
	ctx := context.Background()
	notPicture := "avatars/eeeeeeeeeeeeeeeeeeeeeeeeee.jpg"
	if err := store.Put(ctx, notPicture, bytes.NewReader([]byte("text")), 4, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
	for name, task := range map[string]*asynq.Task{
		"not json":      asynq.NewTask(jobs.TypeAvatarVariants, []byte("{")),
		"path trick":    avatarTask(t, id, "../../etc/passwd"),
		"not a picture": avatarTask(t, id, notPicture),
	} {
		if err := h.Mux().ProcessTask(ctx, task); !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: %v, want SkipRetry", name, err)
		}
	}
}
