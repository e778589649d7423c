package users_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/storage"
	"github.com/launchkit/launchkit/internal/users"
)

// outboxOf lists the payloads of the outbox rows of taskType, oldest
// first.
func outboxOf(t *testing.T, d *db.DB, taskType string) []string {
	t.Helper()
	var payloads []string
	if err := d.Gorm.Table("outbox").Where("task_type = ?", taskType).Order("id").Pluck("payload", &payloads).Error; err != nil {
		t.Fatal(err)
	}
	return payloads
}

// released lists every key the outbox's storage:delete rows hold.
func released(t *testing.T, d *db.DB) []string {
	t.Helper()
	var keys []string
	for _, p := range outboxOf(t, d, storage.TaskDelete) {
		var dp storage.DeletePayload
		if err := json.Unmarshal([]byte(p), &dp); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, dp.Keys...)
	}
	slices.Sort(keys)
	return keys
}

// tracked lists the keys stored_files holds.
func tracked(t *testing.T, d *db.DB) []string {
	t.Helper()
	var keys []string
	if err := d.Gorm.Table("stored_files").Order("object_key").Pluck("object_key", &keys).Error; err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestAvatarLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		u := mustCreate(t, s, "pic@example.com")
		if err := s.SetAvatar(ctx, u.ID, "../etc/passwd"); err == nil {
			t.Fatal("SetAvatar took a key that is no storage key")
		}
		first := "avatars/aaaaaaaaaaaaaaaaaaaaaaaaaa.jpg"
		if err := s.SetAvatar(ctx, u.ID, first); err != nil {
			t.Fatal(err)
		}
		got, err := s.ByID(ctx, u.ID)
		if err != nil || got.AvatarKey != first || got.AvatarVariants {
			t.Fatalf("after SetAvatar: %q %v (%v)", got.AvatarKey, got.AvatarVariants, err)
		}
		if tr := tracked(t, d); !slices.Equal(tr, []string{first}) {
			t.Fatalf("tracked %q", tr)
		}
		tasks := outboxOf(t, d, users.TaskAvatarVariants)
		var p users.AvatarPayload
		if len(tasks) != 1 || json.Unmarshal([]byte(tasks[0]), &p) != nil || p.UserID != u.ID || p.Key != first {
			t.Fatalf("variant tasks queued: %q", tasks)
		}

		// The copies are recorded while the picture is still the user's.
		ok, err := s.SetAvatarVariants(ctx, u.ID, first)
		if err != nil || !ok {
			t.Fatalf("SetAvatarVariants: %v %v", ok, err)
		}
		// Twice is no error (a task run again), and still current.
		if ok, err = s.SetAvatarVariants(ctx, u.ID, first); err != nil || !ok {
			t.Fatalf("SetAvatarVariants again: %v %v", ok, err)
		}
		if got, _ = s.ByID(ctx, u.ID); !got.AvatarVariants {
			t.Fatal("AvatarVariants not set")
		}
		if tr := tracked(t, d); len(tr) != 3 {
			t.Fatalf("tracked %q, want the picture and its two copies", tr)
		}

		// A new picture releases the old one and its copies.
		second := "avatars/bbbbbbbbbbbbbbbbbbbbbbbbbb.png"
		if err := s.SetAvatar(ctx, u.ID, second); err != nil {
			t.Fatal(err)
		}
		want := users.AvatarFiles(first)
		slices.Sort(want)
		if r := released(t, d); !slices.Equal(r, want) {
			t.Fatalf("released %q, want %q", r, want)
		}
		if tr := tracked(t, d); !slices.Equal(tr, []string{second}) {
			t.Fatalf("tracked %q", tr)
		}
		// The old picture's task, late: not current any more.
		if ok, err = s.SetAvatarVariants(ctx, u.ID, first); err != nil || ok {
			t.Fatalf("SetAvatarVariants of a replaced picture: %v %v", ok, err)
		}

		if err := s.RemoveAvatar(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ = s.ByID(ctx, u.ID); got.AvatarKey != "" {
			t.Fatalf("after RemoveAvatar: %q", got.AvatarKey)
		}
		if tr := tracked(t, d); len(tr) != 0 {
			t.Fatalf("tracked %q after removal", tr)
		}
		if r := released(t, d); !slices.Contains(r, second) {
			t.Fatalf("released %q, want %q among them", r, second)
		}
		// Removing nothing is no error.
		if err := s.RemoveAvatar(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestDeletingAnAccountReleasesItsPicture(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		admin := mustCreate(t, s, "admin@example.com", users.RoleAdmin)
		u := mustCreate(t, s, "leaving@example.com")
		key := "avatars/cccccccccccccccccccccccccc.jpg"
		if err := s.SetAvatar(ctx, u.ID, key); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, admin.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		want := users.AvatarFiles(key)
		slices.Sort(want)
		if r := released(t, d); !slices.Equal(r, want) {
			t.Fatalf("released %q, want %q", r, want)
		}
		if tr := tracked(t, d); len(tr) != 0 {
			t.Fatalf("still tracked: %q", tr)
		}
		// The task of a deleted user's picture finds nobody.
		if ok, err := s.SetAvatarVariants(ctx, u.ID, key); err != nil || ok {
			t.Fatalf("SetAvatarVariants of a deleted user: %v %v", ok, err)
		}
	})
}

func TestListAndSignInCarryThePicture(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		u := mustCreate(t, s, "listed@example.com")
		key := "avatars/dddddddddddddddddddddddddd.jpg"
		if err := s.SetAvatar(ctx, u.ID, key); err != nil {
			t.Fatal(err)
		}
		page, err := s.List(ctx, users.ListQuery{PerPage: 10})
		if err != nil || len(page.Users) != 1 || page.Users[0].AvatarKey != key {
			t.Fatalf("List: %+v %v", page.Users, err)
		}
		byEmail, err := s.ByEmail(ctx, "listed@example.com")
		if err != nil || byEmail.AvatarKey != key {
			t.Fatalf("ByEmail: %v %v", byEmail, err)
		}
		// A user with no picture (NULL) reads as none.
		other := mustCreate(t, s, "plain@example.com")
		if got, err := s.ByID(ctx, other.ID); err != nil || got.AvatarKey != "" {
			t.Fatalf("no picture: %q %v", got.AvatarKey, err)
		}
		if err := s.RemoveAvatar(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		page, err = s.List(ctx, users.ListQuery{PerPage: 10})
		if err != nil || len(page.Users) != 2 || page.Users[0].AvatarKey != "" || page.Users[1].AvatarKey != "" {
			t.Fatalf("List after removal (NULL keys): %+v %v", page.Users, err)
		}
	})
}
