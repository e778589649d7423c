package users_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

// mustIssue issues a token valid for an hour or fails the test.
func mustIssue(t *testing.T, s *users.Service, userID uint, purpose users.TokenPurpose) string {
	t.Helper()
	raw, err := s.IssueToken(t.Context(), userID, purpose, time.Hour)
	if err != nil {
		t.Fatalf("IssueToken(%d, %s): %v", userID, purpose, err)
	}
	return raw
}

var rawToken = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// useToken uses up the token raw as its link does: a password reset (to
// a fresh password) or an address confirmation.
func useToken(ctx context.Context, s *users.Service, raw string, purpose users.TokenPurpose) (*users.User, error) {
	if purpose == users.PurposeResetPassword {
		return s.ResetPassword(ctx, raw, "a brand new password")
	}
	return s.ConfirmEmail(ctx, raw)
}

func TestIssueAndUseToken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleDev)
		raw := mustIssue(t, s, ada.ID, users.PurposeConfirmEmail)
		if !rawToken.MatchString(raw) {
			t.Errorf("raw token %q is not 43 base64url characters", raw)
		}

		for range 2 { // peeking never uses the token up
			u, err := s.PeekToken(ctx, raw, users.PurposeConfirmEmail)
			if err != nil || u.ID != ada.ID {
				t.Fatalf("PeekToken = %+v, %v; want user %d", u, err, ada.ID)
			}
		}
		u, err := s.ConfirmEmail(ctx, raw)
		if err != nil {
			t.Fatalf("ConfirmEmail: %v", err)
		}
		if u.ID != ada.ID || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Errorf("ConfirmEmail = %+v, want user %d with roles [dev user]", u, ada.ID)
		}

		u, err = s.ConfirmEmail(ctx, raw)
		wantErr(t, "second ConfirmEmail", err, users.ErrTokenUsed, raw)
		if u != nil {
			t.Errorf("a failed ConfirmEmail returned a user: %+v", u)
		}
		_, err = s.PeekToken(ctx, raw, users.PurposeConfirmEmail)
		wantErr(t, "PeekToken of a used token", err, users.ErrTokenUsed, raw)
	})
}

func TestTokenWorksOnlyForItsPurpose(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		raw := mustIssue(t, s, ada.ID, users.PurposeConfirmEmail)

		_, err := s.PeekToken(ctx, raw, users.PurposeResetPassword)
		wantErr(t, "PeekToken for another purpose", err, users.ErrInvalidToken, raw)
		_, err = s.ResetPassword(ctx, raw, "a brand new password")
		wantErr(t, "ResetPassword with a confirm-email token", err, users.ErrInvalidToken, raw)

		if _, err := s.ConfirmEmail(ctx, raw); err != nil {
			t.Errorf("tries for another purpose used the token up: %v", err)
		}
	})
}

func TestMalformedAndUnknownTokensAreInvalid(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		raw := mustIssue(t, s, ada.ID, users.PurposeResetPassword)
		unknown := strings.Repeat("A", 43) // well-formed, never issued

		for _, tc := range []struct{ name, raw string }{
			{"empty", ""},
			{"garbage", "not a token"},
			{"unknown", unknown},
			{"truncated", raw[:42]},
			{"extended", raw + "A"},
			{"padded", raw + "="},
			{"standard base64 alphabet", strings.Repeat("+", 43)},
			{"with white space", " " + raw[1:]},
			{"hash instead of token", hashOf(raw)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.PeekToken(ctx, tc.raw, users.PurposeResetPassword)
				wantErr(t, "PeekToken", err, users.ErrInvalidToken, tc.raw)
				u, err := s.ResetPassword(ctx, tc.raw, "a brand new password")
				wantErr(t, "ResetPassword", err, users.ErrInvalidToken, tc.raw)
				if u != nil {
					t.Errorf("ResetPassword returned a user with an error: %+v", u)
				}
			})
		}
	})
}

func TestExpiredToken(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")

		// A real, short ttl: the token stops working once it runs out.
		raw, err := s.IssueToken(ctx, ada.ID, users.PurposeConfirmEmail, 5*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err = s.PeekToken(ctx, raw, users.PurposeConfirmEmail)
			if err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		wantErr(t, "PeekToken after the ttl", err, users.ErrTokenExpired, raw)
		_, err = s.ConfirmEmail(ctx, raw)
		wantErr(t, "ConfirmEmail after the ttl", err, users.ErrTokenExpired, raw)

		// A reset token whose expiry is moved into the past.
		raw = mustIssue(t, s, ada.ID, users.PurposeResetPassword)
		if err := d.Gorm.Table("user_tokens").Where("token_hash = ?", hashOf(raw)).
			Update("expires_at", time.Now().UTC().Add(-time.Minute)).Error; err != nil {
			t.Fatal(err)
		}
		_, err = s.ResetPassword(ctx, raw, "a brand new password")
		wantErr(t, "ResetPassword with an expired token", err, users.ErrTokenExpired, raw)
		if _, err := s.SignIn(ctx, "ada@example.com", password); err != nil {
			t.Errorf("an expired token changed the password: %v", err)
		}

		for _, ttl := range []time.Duration{0, -time.Second} {
			if raw, err := s.IssueToken(ctx, ada.ID, users.PurposeResetPassword, ttl); err == nil {
				t.Errorf("IssueToken with ttl %s = %q, want an error", ttl, raw)
			}
		}
	})
}

// TestSeveralLinksWorkAtOnce: a new link does not kill the one before (so
// nobody can keep a user's reset link dead by asking for new ones); the
// newest MaxLiveTokens of a purpose work, older ones stop; using one
// retires the others.
func TestSeveralLinksWorkAtOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		grace := mustCreate(t, s, "grace@example.com")
		var resets []string
		for range users.MaxLiveTokens + 1 {
			resets = append(resets, mustIssue(t, s, ada.ID, users.PurposeResetPassword))
		}
		confirm := mustIssue(t, s, ada.ID, users.PurposeConfirmEmail)
		graces := mustIssue(t, s, grace.ID, users.PurposeResetPassword)

		_, err := s.PeekToken(ctx, resets[0], users.PurposeResetPassword)
		wantErr(t, "the oldest of more than MaxLiveTokens", err, users.ErrInvalidToken, resets[0])
		for i, raw := range resets[1:] {
			if _, err := s.PeekToken(ctx, raw, users.PurposeResetPassword); err != nil {
				t.Errorf("reset link %d of the newest %d: %v", i+1, users.MaxLiveTokens, err)
			}
		}
		if _, err := s.ResetPassword(ctx, resets[2], "a fresh password"); err != nil {
			t.Fatal(err)
		}
		for _, raw := range slices.Concat(resets[1:2], resets[3:]) {
			if _, err := s.PeekToken(ctx, raw, users.PurposeResetPassword); err == nil {
				t.Error("another reset link still works after one was used")
			}
		}
		for _, tc := range []struct {
			name, raw string
			purpose   users.TokenPurpose
		}{
			{"the user's token for another purpose", confirm, users.PurposeConfirmEmail},
			{"another user's token", graces, users.PurposeResetPassword},
		} {
			if _, err := useToken(ctx, s, tc.raw, tc.purpose); err != nil {
				t.Errorf("using %s: %v", tc.name, err)
			}
		}

		// A used token stays used (not invalid) when a newer one is issued.
		mustIssue(t, s, ada.ID, users.PurposeResetPassword)
		_, err = s.ResetPassword(ctx, resets[2], "a brand new password")
		wantErr(t, "ResetPassword with a used token after a new issue", err, users.ErrTokenUsed, resets[2])

		_, err = s.IssueToken(ctx, 999999, users.PurposeResetPassword, time.Hour)
		wantErr(t, "IssueToken for an unknown user", err, users.ErrNotFound, "")
		if _, err := s.IssueToken(ctx, ada.ID, "login", time.Hour); err == nil {
			t.Error("IssueToken with an unknown purpose succeeded")
		}
	})
}

func TestOnlyTheTokenHashIsStored(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com")
		before := time.Now().UTC().Add(-time.Second)
		raw := mustIssue(t, s, ada.ID, users.PurposeResetPassword)

		var rows []struct {
			UserID    uint
			Purpose   string
			TokenHash string
			ExpiresAt time.Time
			UsedAt    *time.Time
		}
		if err := d.Gorm.Table("user_tokens").Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("user_tokens has %d rows, want 1", len(rows))
		}
		r := rows[0]
		if r.UserID != ada.ID || r.Purpose != "reset-password" || r.TokenHash != hashOf(raw) || r.UsedAt != nil {
			t.Errorf("stored %+v, want user %d, reset-password, the SHA-256 hex of the token, unused", r, ada.ID)
		}
		if exp := r.ExpiresAt.Sub(before); exp < time.Hour || exp > time.Hour+time.Minute {
			t.Errorf("expires_at %s is not an hour after issuing (%s)", r.ExpiresAt, before)
		}
		var found int64
		if err := d.Gorm.Table("user_tokens").Where("token_hash = ? OR purpose = ?", raw, raw).Count(&found).Error; err != nil {
			t.Fatal(err)
		}
		if found != 0 {
			t.Error("the raw token is stored")
		}
	})
}

func TestConcurrentConsumersOneWins(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com")
		for _, purpose := range []users.TokenPurpose{users.PurposeConfirmEmail, users.PurposeResetPassword} {
			raw := mustIssue(t, s, ada.ID, purpose)
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					_, errs[i] = useToken(t.Context(), s, raw, purpose)
				})
			}
			wg.Wait()
			if won := winners(t, "concurrent use of a "+string(purpose)+" token", errs, users.ErrTokenUsed); won != 1 {
				t.Errorf("%d of %d concurrent uses of one %s token succeeded, want 1", won, n, purpose)
			}
		}
	})
}

func TestResetPassword(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleAdmin)
		raw := mustIssue(t, s, ada.ID, users.PurposeResetPassword)
		const newPassword = "a brand new password"

		for _, pw := range []string{"", "short", strings.Repeat("p", users.MaxPasswordLen+1)} {
			u, err := s.ResetPassword(ctx, raw, pw)
			wantErr(t, "ResetPassword with a bad password", err, users.ErrInvalidPassword, raw)
			if u != nil {
				t.Errorf("ResetPassword returned a user with an error: %+v", u)
			}
		}
		if _, err := s.PeekToken(ctx, raw, users.PurposeResetPassword); err != nil {
			t.Fatalf("a rejected password used the token up: %v", err)
		}

		u, err := s.ResetPassword(ctx, raw, newPassword)
		if err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		if u.ID != ada.ID || !u.HasRole(users.RoleAdmin) {
			t.Errorf("ResetPassword = %+v, want user %d with roles loaded", u, ada.ID)
		}
		if _, err := s.SignIn(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("SignIn with the new password: %v", err)
		}
		_, err = s.SignIn(ctx, "ada@example.com", password)
		wantErr(t, "SignIn with the old password", err, users.ErrInvalidCredentials, "")

		_, err = s.ResetPassword(ctx, raw, "yet another password")
		wantErr(t, "ResetPassword with a used token", err, users.ErrTokenUsed, raw)
		if _, err := s.SignIn(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("a used token changed the password again: %v", err)
		}
	})
}

func TestConfirmEmail(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		before := time.Now().UTC().Add(-time.Second)
		u, err := s.ConfirmEmail(ctx, mustIssue(t, s, ada.ID, users.PurposeConfirmEmail))
		if err != nil {
			t.Fatalf("ConfirmEmail: %v", err)
		}
		after := time.Now().UTC().Add(time.Second)
		if u.ID != ada.ID || u.EmailConfirmedAt == nil {
			t.Fatalf("ConfirmEmail = %+v, want user %d with EmailConfirmedAt set", u, ada.ID)
		}
		stored, err := s.ByID(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := stored.EmailConfirmedAt
		if at == nil || at.Before(before) || at.After(after) || !at.Equal(*u.EmailConfirmedAt) {
			t.Fatalf("stored EmailConfirmedAt = %v, want %v, between %s and %s", at, u.EmailConfirmedAt, before, after)
		}

		// Confirming again works and keeps the first confirmation time.
		u, err = s.ConfirmEmail(ctx, mustIssue(t, s, ada.ID, users.PurposeConfirmEmail))
		if err != nil {
			t.Fatalf("ConfirmEmail of a confirmed address: %v", err)
		}
		if u.EmailConfirmedAt == nil || !u.EmailConfirmedAt.Equal(*at) {
			t.Errorf("second ConfirmEmail: EmailConfirmedAt = %v, want the first, %v", u.EmailConfirmedAt, at)
		}

		_, err = s.ConfirmEmail(ctx, mustIssue(t, s, ada.ID, users.PurposeResetPassword))
		wantErr(t, "ConfirmEmail with a reset-password token", err, users.ErrInvalidToken, "")
	})
}

func TestTokensOfInactiveOrDeletedUsers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		gone := mustCreate(t, s, "gone@example.com")
		reset := mustIssue(t, s, gone.ID, users.PurposeResetPassword)
		confirm := mustIssue(t, s, gone.ID, users.PurposeConfirmEmail)
		if err := d.Gorm.Model(&users.User{}).Where("id = ?", gone.ID).Update("active", false).Error; err != nil {
			t.Fatal(err)
		}
		_, err := s.PeekToken(ctx, reset, users.PurposeResetPassword)
		wantErr(t, "PeekToken of an inactive user's token", err, users.ErrInvalidToken, reset)
		_, err = s.ResetPassword(ctx, reset, "a brand new password")
		wantErr(t, "ResetPassword of an inactive user", err, users.ErrInvalidToken, reset)
		_, err = s.ConfirmEmail(ctx, confirm)
		wantErr(t, "ConfirmEmail of an inactive user", err, users.ErrInvalidToken, confirm)

		// Deleting a user deletes its tokens (ON DELETE CASCADE).
		if err := d.Gorm.Delete(&users.User{}, gone.ID).Error; err != nil {
			t.Fatalf("delete user: %v", err)
		}
		var left int64
		if err := d.Gorm.Table("user_tokens").Where("user_id = ?", gone.ID).Count(&left).Error; err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d user_tokens rows outlived their user", left)
		}
	})
}

func TestByID(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		created := mustCreate(t, s, "ada@example.com", users.RoleDev)
		u, err := s.ByID(t.Context(), created.ID)
		if err != nil {
			t.Fatalf("ByID: %v", err)
		}
		if u.ID != created.ID || u.Email != "ada@example.com" || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Errorf("ByID = %+v, want ada with roles [dev user]", u)
		}
		_, err = s.ByID(t.Context(), created.ID+1000)
		wantErr(t, "ByID of an unknown id", err, users.ErrNotFound, "")
	})
}

func TestSetName(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		nameOf := func() string {
			t.Helper()
			u, err := s.ByID(ctx, ada.ID)
			if err != nil {
				t.Fatal(err)
			}
			return u.Name
		}
		longest := strings.Repeat("é", users.MaxNameLen)
		for _, tc := range []struct{ name, want string }{
			{"  Ada Lovelace \n", "Ada Lovelace"},
			{"Ada Lovelace", "Ada Lovelace"}, // unchanged is not "not found"
			{longest, longest},
			{"  " + longest + "  ", longest},
			{"", ""},
		} {
			if err := s.SetName(ctx, ada.ID, tc.name); err != nil {
				t.Errorf("SetName(%q): %v", tc.name, err)
			} else if got := nameOf(); got != tc.want {
				t.Errorf("after SetName(%q), name = %q, want %q", tc.name, got, tc.want)
			}
		}

		if err := s.SetName(ctx, ada.ID, "Ada"); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{longest + "x", "Ada\xff"} {
			wantErr(t, "SetName of a bad name", s.SetName(ctx, ada.ID, bad), users.ErrInvalidName, "")
		}
		if got := nameOf(); got != "Ada" {
			t.Errorf("rejected names changed the name to %q", got)
		}
		wantErr(t, "SetName of an unknown user", s.SetName(ctx, ada.ID+1000, "Nobody"), users.ErrNotFound, "")
	})
}

func TestChangePassword(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		const newPassword = "a brand new password"
		change := func(id uint, old, new string) error {
			_, err := s.ChangePassword(ctx, id, old, new)
			return err
		}

		wantErr(t, "ChangePassword with a wrong old password",
			change(ada.ID, "not the password", newPassword), users.ErrInvalidCredentials, newPassword)
		wantErr(t, "ChangePassword with a too long old password",
			change(ada.ID, strings.Repeat("p", 10000), newPassword), users.ErrInvalidCredentials, newPassword)
		wantErr(t, "ChangePassword to a short password",
			change(ada.ID, password, "short"), users.ErrInvalidPassword, password)
		wantErr(t, "ChangePassword of an unknown user",
			change(ada.ID+1000, password, newPassword), users.ErrNotFound, password)
		if _, err := s.SignIn(ctx, "ada@example.com", password); err != nil {
			t.Fatalf("a rejected ChangePassword changed the password: %v", err)
		}
		if u, _ := s.ByID(ctx, ada.ID); u.SessionKey != ada.SessionKey {
			t.Error("a rejected ChangePassword ended the sessions (a new session key)")
		}

		changed, err := s.ChangePassword(ctx, ada.ID, password, newPassword)
		if err != nil {
			t.Fatalf("ChangePassword: %v", err)
		}
		if changed.SessionKey == ada.SessionKey || changed.SessionKey == "" {
			t.Errorf("after ChangePassword the session key is %q, want a new one", changed.SessionKey)
		}
		if _, err := s.SignIn(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("SignIn with the new password: %v", err)
		}
		_, err = s.SignIn(ctx, "ada@example.com", password)
		wantErr(t, "SignIn with the old password", err, users.ErrInvalidCredentials, "")

		if err := d.Gorm.Model(&users.User{}).Where("id = ?", ada.ID).Update("active", false).Error; err != nil {
			t.Fatal(err)
		}
		wantErr(t, "ChangePassword of an inactive user",
			change(ada.ID, newPassword, "yet another password"), users.ErrInvalidCredentials, newPassword)
	})
}

// TestEndSessions: every way the service ends a user's sessions gives
// them a new session key — and only those. Every account has one from
// its creation, and no two accounts share one.
func TestEndSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", "dev")
		grace := mustCreate(t, s, "grace@example.com")
		if ada.SessionKey == "" || len(ada.SessionKey) < 26 || ada.SessionKey == grace.SessionKey {
			t.Fatalf("new accounts' session keys: %q and %q", ada.SessionKey, grace.SessionKey)
		}
		last := ada.SessionKey
		// ended reports whether the user's sessions were ended since the
		// last call.
		ended := func() bool {
			u, err := s.ByID(ctx, ada.ID)
			if err != nil {
				t.Fatal(err)
			}
			changed := u.SessionKey != last
			last = u.SessionKey
			return changed
		}
		u, err := s.EndSessions(ctx, ada.ID)
		if err != nil || u.SessionKey == ada.SessionKey || !ended() {
			t.Fatalf("EndSessions = %+v, %v: no new session key", u, err)
		}
		if _, err := s.EndSessions(ctx, ada.ID+1000); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("EndSessions of an unknown user: %v", err)
		}
		if err := s.SetPassword(ctx, "ada@example.com", "set by an operator"); err != nil || !ended() {
			t.Errorf("SetPassword: %v; ended the sessions: false", err)
		}
		if _, err := s.Update(ctx, ada.ID, users.Changes{Email: "ada@example.com", Active: true, Roles: []string{"dev"}}); err != nil || ended() {
			t.Errorf("an edit that keeps the account active ended its sessions: %v", err)
		}
		if _, err := s.Update(ctx, ada.ID, users.Changes{Email: "ada@example.com", Active: false}); err != nil || !ended() {
			t.Errorf("deactivation: %v; ended the sessions: false", err)
		}
	})
}

// TestEnsureSessionKey: an account from before session keys (an empty
// key) gets one, once: sign-ins racing to give it one all get the same.
func TestEnsureSessionKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		if got, err := s.EnsureSessionKey(ctx, ada); err != nil || got.SessionKey != ada.SessionKey {
			t.Fatalf("EnsureSessionKey of an account with a key: %v, %v", got, err)
		}
		if err := d.Gorm.Model(&users.User{}).Where("id = ?", ada.ID).Update("session_key", "").Error; err != nil {
			t.Fatal(err)
		}
		old, err := s.ByID(ctx, ada.ID)
		if err != nil || old.SessionKey != "" {
			t.Fatalf("ByID = %v, %v", old, err)
		}
		keys := make([]string, 4)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				u, err := s.EnsureSessionKey(ctx, old)
				if err != nil {
					t.Error(err)
					return
				}
				keys[i] = u.SessionKey
			})
		}
		wg.Wait()
		if keys[0] == "" || slices.ContainsFunc(keys, func(k string) bool { return k != keys[0] }) {
			t.Errorf("racing EnsureSessionKeys gave %q", keys)
		}
	})
}

// TestEndOtherSessions: ending the other sessions takes the user's
// password, and of two requests from sessions with the same key only one
// wins: the other's session was among those it ended.
func TestEndOtherSessions(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		v := ada.SessionKey
		_, err := s.EndOtherSessions(ctx, ada.ID, v, "a guess")
		wantErr(t, "EndOtherSessions with a wrong password", err, users.ErrInvalidCredentials, "a guess")
		_, err = s.EndOtherSessions(ctx, ada.ID, v, strings.Repeat("x", users.MaxPasswordLen+1))
		wantErr(t, "EndOtherSessions with an over-long password", err, users.ErrInvalidCredentials, "")

		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.EndOtherSessions(ctx, ada.ID, v, password) })
		}
		wg.Wait()
		won := winners(t, "a concurrent EndOtherSessions", errs, users.ErrSessionEnded)
		u, err := s.ByID(ctx, ada.ID)
		if err != nil {
			t.Fatal(err)
		}
		if won != 1 || u.SessionKey == v {
			t.Errorf("%d of %d concurrent requests won, session key changed: %v; want one, and a new key", won, len(errs), u.SessionKey != v)
		}
		_, err = s.EndOtherSessions(ctx, ada.ID, v, password)
		wantErr(t, "EndOtherSessions from an ended session", err, users.ErrSessionEnded, password)
		_, err = s.EndOtherSessions(ctx, ada.ID, "", password)
		wantErr(t, "EndOtherSessions from a session without a key", err, users.ErrSessionEnded, password)
	})
}

// hashOf is how user_tokens stores a raw token.
func hashOf(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// TestConfirmationByOtherMeans: an operator's account is confirmed from
// the start, a completed password reset confirms the address, and an
// admin's edit sets or clears confirmation.
func TestConfirmationByOtherMeans(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		op, err := s.CreateConfirmed(ctx, "op@example.com", password)
		if err != nil || op.EmailConfirmedAt == nil {
			t.Fatalf("CreateConfirmed = %+v, %v; want a confirmed address", op, err)
		}
		u := mustCreate(t, s, "u@example.com")
		raw, err := s.IssueToken(ctx, u.ID, users.PurposeResetPassword, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		reset, err := s.ResetPassword(ctx, raw, "a fresh password")
		if err != nil || reset.EmailConfirmedAt == nil {
			t.Fatalf("after a reset: %+v, %v; want the address confirmed", reset, err)
		}
		edited, err := s.Update(ctx, u.ID, users.Changes{Email: "u@example.com", Active: true, Confirmed: false})
		if err != nil || edited.EmailConfirmedAt != nil {
			t.Errorf("unconfirmed by an admin: %+v, %v", edited, err)
		}
		edited, err = s.Update(ctx, u.ID, users.Changes{Email: "u@example.com", Active: true, Confirmed: true})
		if err != nil || edited.EmailConfirmedAt == nil {
			t.Errorf("confirmed by an admin: %+v, %v", edited, err)
		}
	})
}

// TestLinksUsedAndIssuedAtOnce: two different live links of one user used
// at the same moment give one success and one "used" (using a link
// retires the other), never a database error; links issued at the same
// moment all work. Both deadlocked on PostgreSQL or MySQL when each
// transaction locked its own token row first.
func TestLinksUsedAndIssuedAtOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ada := mustCreate(t, s, "ada@example.com")
		for round := range 10 {
			raws := []string{mustIssue(t, s, ada.ID, users.PurposeConfirmEmail), mustIssue(t, s, ada.ID, users.PurposeConfirmEmail)}
			errs := make([]error, len(raws))
			var wg sync.WaitGroup
			for i, raw := range raws {
				wg.Go(func() { _, errs[i] = s.ConfirmEmail(t.Context(), raw) })
			}
			wg.Wait()
			if won := winners(t, fmt.Sprint("round ", round, ": two links used at once"), errs, users.ErrTokenUsed, users.ErrInvalidToken); won != 1 {
				t.Fatalf("round %d: %d of two links used at once worked, want 1", round, won)
			}
		}

		issued := make([]string, users.MaxLiveTokens)
		errs := make([]error, len(issued))
		var wg sync.WaitGroup
		for i := range issued {
			wg.Go(func() { issued[i], errs[i] = s.IssueToken(t.Context(), ada.ID, users.PurposeResetPassword, time.Hour) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%d links issued at once: %v", len(issued), err)
			}
			if _, err := s.PeekToken(t.Context(), issued[i], users.PurposeResetPassword); err != nil {
				t.Errorf("link %d of %d issued at once: %v", i, len(issued), err)
			}
		}
	})
}
