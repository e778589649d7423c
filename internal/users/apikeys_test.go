package users_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// mustCreateKey makes an API key or fails the test.
func mustCreateKey(t *testing.T, s *users.Service, userID uint, name string) (*users.APIKey, string) {
	t.Helper()
	k, raw, err := s.CreateAPIKey(t.Context(), userID, name)
	if err != nil {
		t.Fatalf("CreateAPIKey(%d, %q): %v", userID, name, err)
	}
	return k, raw
}

// storedKey is a row of api_keys as the database holds it.
type storedKey struct {
	ID         uint
	UserID     uint
	Name       string
	Prefix     string
	KeyHash    string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

func loadKey(t *testing.T, d *db.DB, id uint) storedKey {
	t.Helper()
	var k storedKey
	if err := d.Gorm.Table("api_keys").Where("id = ?", id).Take(&k).Error; err != nil {
		t.Fatalf("load API key %d: %v", id, err)
	}
	return k
}

var rawAPIKey = regexp.MustCompile(`^lk_[A-Za-z0-9_-]{43}$`)

func TestCreateListAndAuthenticateAPIKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleDev)
		before := time.Now().UTC().Add(-time.Second)
		first, raw1 := mustCreateKey(t, s, ada.ID, "  deploy script  ")
		second, raw2 := mustCreateKey(t, s, ada.ID, "")

		for _, raw := range []string{raw1, raw2} {
			if !rawAPIKey.MatchString(raw) {
				t.Errorf("raw key %q is not lk_ and 43 base64url characters", raw)
			}
		}
		if raw1 == raw2 {
			t.Fatal("two keys are the same")
		}
		if first.ID == 0 || first.UserID != ada.ID || first.Name != "deploy script" || first.Prefix != raw1[:users.APIKeyPrefixLen] ||
			first.LastUsedAt != nil || first.RevokedAt != nil || first.CreatedAt.Before(before) {
			t.Errorf("created %+v, want an id, ada's, trimmed name, prefix %q, unused, unrevoked", first, raw1[:users.APIKeyPrefixLen])
		}

		keys, err := s.ListAPIKeys(ctx, ada.ID)
		if err != nil {
			t.Fatalf("ListAPIKeys: %v", err)
		}
		if got := keyIDs(keys); !slices.Equal(got, []uint{second.ID, first.ID}) {
			t.Errorf("ListAPIKeys = %v, want newest first %v", got, []uint{second.ID, first.ID})
		}
		if keys[1].Name != "deploy script" || keys[1].Prefix != first.Prefix {
			t.Errorf("listed %+v, want name and prefix of %+v", keys[1], first)
		}

		for _, raw := range []string{raw1, raw2} {
			u, err := s.AuthenticateAPIKey(ctx, raw)
			if err != nil {
				t.Fatalf("AuthenticateAPIKey: %v", err)
			}
			if u.ID != ada.ID || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
				t.Errorf("AuthenticateAPIKey = %+v, want user %d with roles [dev user]", u, ada.ID)
			}
		}

		// Other users see none of ada's keys.
		bob := mustCreate(t, s, "bob@example.com")
		if keys, err := s.ListAPIKeys(ctx, bob.ID); err != nil || len(keys) != 0 {
			t.Errorf("ListAPIKeys(bob) = %v, %v; want none", keys, err)
		}
	})
}

func keyIDs(keys []users.APIKey) []uint {
	ids := make([]uint, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

func TestAPIKeyNames(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com", users.APIKeyRole)
		k, _ := mustCreateKey(t, s, ada.ID, strings.Repeat("é", users.MaxAPIKeyNameLen))
		if got := loadKey(t, d, k.ID).Name; got != strings.Repeat("é", users.MaxAPIKeyNameLen) {
			t.Errorf("stored name %q, want 100 é", got)
		}
		for _, name := range []string{strings.Repeat("é", users.MaxAPIKeyNameLen+1), "bad \xff utf-8"} {
			k, raw, err := s.CreateAPIKey(t.Context(), ada.ID, name)
			wantErr(t, "CreateAPIKey with a bad name", err, users.ErrInvalidAPIKeyName, "")
			if k != nil || raw != "" {
				t.Errorf("a failed CreateAPIKey returned %+v, %q", k, raw)
			}
		}
		_, _, err := s.CreateAPIKey(t.Context(), 999999, "nobody's")
		wantErr(t, "CreateAPIKey for a missing user", err, users.ErrNotFound, "")
	})
}

func TestOnlyTheAPIKeyHashIsStored(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com", users.APIKeyRole)
		k, raw := mustCreateKey(t, s, ada.ID, "ci")
		r := loadKey(t, d, k.ID)
		if r.KeyHash != hashOf(raw) || r.Prefix != raw[:10] || r.UserID != ada.ID {
			t.Errorf("stored %+v, want the SHA-256 hex of the key and its first 10 characters", r)
		}
		var found int64
		if err := d.Gorm.Table("api_keys").Where("key_hash = ? OR prefix = ? OR name = ?", raw, raw, raw).Count(&found).Error; err != nil {
			t.Fatal(err)
		}
		if found != 0 {
			t.Error("the raw key is stored")
		}
		// The key does not authenticate by its hash or prefix either.
		for _, wrong := range []string{r.KeyHash, r.Prefix} {
			_, err := s.AuthenticateAPIKey(t.Context(), wrong)
			wantErr(t, "AuthenticateAPIKey with a stored column", err, users.ErrInvalidAPIKey, raw)
		}
	})
}

func TestMalformedAndUnknownAPIKeysAreInvalid(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com", users.APIKeyRole)
		_, raw := mustCreateKey(t, s, ada.ID, "")
		for _, tc := range []struct{ name, raw string }{
			{"empty", ""},
			{"garbage", "not a key"},
			{"unknown", "lk_" + strings.Repeat("A", 43)},
			{"without the tag", raw[3:]},
			{"other tag", "xx_" + raw[3:]},
			{"truncated", raw[:len(raw)-1]},
			{"extended", raw + "A"},
			{"standard base64 alphabet", "lk_" + strings.Repeat("+", 43)},
			{"with white space", raw + " "},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, err := s.AuthenticateAPIKey(t.Context(), tc.raw)
				wantErr(t, "AuthenticateAPIKey", err, users.ErrInvalidAPIKey, tc.raw)
				if u != nil {
					t.Errorf("AuthenticateAPIKey returned a user with an error: %+v", u)
				}
			})
		}
	})
}

func TestRevokeAPIKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleDev)
		bob := mustCreate(t, s, "bob@example.com", users.RoleDev)
		adaKey, adaRaw := mustCreateKey(t, s, ada.ID, "ada's")
		kept, keptRaw := mustCreateKey(t, s, ada.ID, "kept")

		// Bob cannot revoke ada's key, nor can anyone revoke a missing one.
		wantErr(t, "RevokeAPIKey of another user's key", s.RevokeAPIKey(ctx, bob.ID, adaKey.ID), users.ErrAPIKeyNotFound, "")
		wantErr(t, "RevokeAPIKey of a missing key", s.RevokeAPIKey(ctx, ada.ID, 999999), users.ErrAPIKeyNotFound, "")
		if r := loadKey(t, d, adaKey.ID); r.RevokedAt != nil {
			t.Fatalf("another user's call revoked the key: %+v", r)
		}
		if _, err := s.AuthenticateAPIKey(ctx, adaRaw); err != nil {
			t.Fatalf("the key stopped working after a refused revocation: %v", err)
		}

		if err := s.RevokeAPIKey(ctx, ada.ID, adaKey.ID); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		u, err := s.AuthenticateAPIKey(ctx, adaRaw)
		wantErr(t, "AuthenticateAPIKey with a revoked key", err, users.ErrInvalidAPIKey, adaRaw)
		if u != nil {
			t.Errorf("a revoked key returned a user: %+v", u)
		}
		wantErr(t, "second RevokeAPIKey", s.RevokeAPIKey(ctx, ada.ID, adaKey.ID), users.ErrAPIKeyNotFound, "")

		// The row stays, with its time; the list and the other key don't see it.
		if r := loadKey(t, d, adaKey.ID); r.RevokedAt == nil {
			t.Errorf("revoked key has no revoked_at: %+v", r)
		}
		keys, err := s.ListAPIKeys(ctx, ada.ID)
		if err != nil || !slices.Equal(keyIDs(keys), []uint{kept.ID}) {
			t.Errorf("ListAPIKeys after revoking = %v, %v; want [%d]", keyIDs(keys), err, kept.ID)
		}
		if _, err := s.AuthenticateAPIKey(ctx, keptRaw); err != nil {
			t.Errorf("revoking one key broke another: %v", err)
		}
	})
}

func TestAPIKeyLastUsedAt(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.APIKeyRole)
		k, raw := mustCreateKey(t, s, ada.ID, "")
		if r := loadKey(t, d, k.ID); r.LastUsedAt != nil {
			t.Fatalf("a new key has last_used_at %s", r.LastUsedAt)
		}
		before := time.Now().UTC().Add(-time.Second)
		if _, err := s.AuthenticateAPIKey(ctx, raw); err != nil {
			t.Fatal(err)
		}
		used := loadKey(t, d, k.ID).LastUsedAt
		if used == nil || used.Before(before) || used.After(time.Now().Add(time.Second)) {
			t.Fatalf("last_used_at = %v, want about now (%s)", used, before)
		}
		if keys, _ := s.ListAPIKeys(ctx, ada.ID); len(keys) != 1 || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(*used) {
			t.Errorf("ListAPIKeys = %+v, want last used at %s", keys, used)
		}

		// A use within the minute is not written; an older one is refreshed.
		setLastUsed := func(at time.Time) {
			t.Helper()
			if err := d.Gorm.Table("api_keys").Where("id = ?", k.ID).Update("last_used_at", at).Error; err != nil {
				t.Fatal(err)
			}
		}
		recent := time.Now().UTC().Add(-10 * time.Second).Truncate(time.Second)
		setLastUsed(recent)
		if _, err := s.AuthenticateAPIKey(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if got := loadKey(t, d, k.ID).LastUsedAt; got == nil || !got.Equal(recent) {
			t.Errorf("last_used_at = %v, want it left at %s", got, recent)
		}
		setLastUsed(time.Now().UTC().Add(-2 * time.Minute))
		if _, err := s.AuthenticateAPIKey(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if got := loadKey(t, d, k.ID).LastUsedAt; got == nil || got.Before(before) {
			t.Errorf("last_used_at = %v, want refreshed to about now", got)
		}
	})
}

func TestAPIKeysOfInactiveOrDeletedUsers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		gone := mustCreate(t, s, "gone@example.com", users.RoleDev)
		k, raw := mustCreateKey(t, s, gone.ID, "")
		if err := d.Gorm.Model(&users.User{}).Where("id = ?", gone.ID).Update("active", false).Error; err != nil {
			t.Fatal(err)
		}
		_, err := s.AuthenticateAPIKey(ctx, raw)
		wantErr(t, "AuthenticateAPIKey of an inactive user", err, users.ErrInvalidAPIKey, raw)
		if r := loadKey(t, d, k.ID); r.LastUsedAt != nil {
			t.Errorf("a refused key was marked used: %+v", r)
		}

		// Deleting a user deletes its keys (ON DELETE CASCADE).
		if err := d.Gorm.Delete(&users.User{}, gone.ID).Error; err != nil {
			t.Fatalf("delete user: %v", err)
		}
		var left int64
		if err := d.Gorm.Table("api_keys").Where("user_id = ?", gone.ID).Count(&left).Error; err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d api_keys rows outlived their user", left)
		}
		_, err = s.AuthenticateAPIKey(ctx, raw)
		wantErr(t, "AuthenticateAPIKey of a deleted user", err, users.ErrInvalidAPIKey, raw)
	})
}

// TestAPIKeyCap: a user holds at most users.MaxAPIKeys working keys;
// revoked ones do not count, and creations racing for the last places
// cannot pass the cap together.
func TestAPIKeyCap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.APIKeyRole)
		bob := mustCreate(t, s, "bob@example.com", users.APIKeyRole)
		var first *users.APIKey
		for i := range users.MaxAPIKeys {
			k, _ := mustCreateKey(t, s, ada.ID, fmt.Sprintf("key %d", i))
			if i == 0 {
				first = k
			}
		}
		k, raw, err := s.CreateAPIKey(ctx, ada.ID, "one too many")
		wantErr(t, "CreateAPIKey past the cap", err, users.ErrTooManyAPIKeys, "")
		if k != nil || raw != "" {
			t.Errorf("a refused CreateAPIKey returned %+v, %q", k, raw)
		}
		if keys, err := s.ListAPIKeys(ctx, ada.ID); err != nil || len(keys) != users.MaxAPIKeys {
			t.Errorf("ada holds %d keys (%v), want the cap, %d", len(keys), err, users.MaxAPIKeys)
		}
		// The cap is each user's own.
		mustCreateKey(t, s, bob.ID, "bob's")

		// A revoked key frees its place, for one key.
		if err := s.RevokeAPIKey(ctx, ada.ID, first.ID); err != nil {
			t.Fatal(err)
		}
		mustCreateKey(t, s, ada.ID, "in the freed place")
		_, _, err = s.CreateAPIKey(ctx, ada.ID, "one too many again")
		wantErr(t, "CreateAPIKey past the cap after a revocation", err, users.ErrTooManyAPIKeys, "")

		// Two places left, eight creations at once: two get them.
		keys, err := s.ListAPIKeys(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys[:2] {
			if err := s.RevokeAPIKey(ctx, ada.ID, k.ID); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, _, errs[i] = s.CreateAPIKey(ctx, ada.ID, "racing") })
		}
		wg.Wait()
		if won := winners(t, "concurrent CreateAPIKey", errs, users.ErrTooManyAPIKeys); won != 2 {
			t.Errorf("%d of 8 concurrent creations for 2 free places succeeded, want 2", won)
		}
		if keys, err := s.ListAPIKeys(ctx, ada.ID); err != nil || len(keys) != users.MaxAPIKeys {
			t.Errorf("ada holds %d keys (%v) after the race, want the cap, %d", len(keys), err, users.MaxAPIKeys)
		}
	})
}

// TestByIDCountsLiveAPIKeys: the user ByID loads carries the number of
// its unrevoked keys (another user's keys and revoked ones do not
// count), as does CountAPIKeys; a user with several roles is counted
// once, not once per role row.
func TestByIDCountsLiveAPIKeys(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleDev, users.RoleAdmin)
		bob := mustCreate(t, s, "bob@example.com", users.RoleDev)
		count := func(id uint) (byID, alone int) {
			t.Helper()
			u, err := s.ByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.CountAPIKeys(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return u.APIKeys, n
		}
		if a, b := count(ada.ID); a != 0 || b != 0 {
			t.Errorf("no keys yet: ByID %d, CountAPIKeys %d", a, b)
		}
		first, _ := mustCreateKey(t, s, ada.ID, "one")
		mustCreateKey(t, s, ada.ID, "two")
		mustCreateKey(t, s, ada.ID, "three")
		mustCreateKey(t, s, bob.ID, "bob's")
		if err := s.RevokeAPIKey(ctx, ada.ID, first.ID); err != nil {
			t.Fatal(err)
		}
		if a, b := count(ada.ID); a != 2 || b != 2 {
			t.Errorf("ada's live keys: ByID %d, CountAPIKeys %d, want 2", a, b)
		}
		if a, b := count(bob.ID); a != 1 || b != 1 {
			t.Errorf("bob's live keys: ByID %d, CountAPIKeys %d, want 1", a, b)
		}
		u, _ := s.ByID(ctx, ada.ID)
		if got := strings.Join(u.RoleNames(), ","); got != "admin,dev,user" {
			t.Errorf("roles with the count = %s", got)
		}
	})
}
