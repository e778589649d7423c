package users_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

const (
	secretKey   = "the current SECRET_KEY of the tests, 32+ bytes"
	olderSecret = "the SECRET_KEY before the rotation, 32+ bytes"
	baseURL     = "http://localhost:8000"
)

// sealer is the SecondFactor sealer of secret with fallbacks.
func sealer(t *testing.T, secret string, fallbacks ...string) *keyring.Sealer {
	t.Helper()
	k, err := keyring.New(secret, fallbacks, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return k.AtRestSealer(keyring.SecondFactor)
}

// clock is a settable time for Service.Now, in the middle of a TOTP step.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 4, 5, 6, 10, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withMFA gives s a security log, a sealer and the clock c.
func withMFA(t *testing.T, s *users.Service, d *db.DB, c *clock) {
	t.Helper()
	withEvents(s, d)
	s.Secrets = sealer(t, secretKey)
	s.Now = c.now
}

// codeAt is secret's authenticator code at t plus steps time steps.
func codeAt(t *testing.T, secret string, at time.Time, steps int) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at.Add(time.Duration(steps)*30*time.Second), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enableTOTP turns on an authenticator app for u with a new key, with a
// code of the step before the current one (so that the current one is
// still good), and returns the key and the recovery codes.
func enableTOTP(t *testing.T, s *users.Service, u *users.User, c *clock) (string, []string) {
	t.Helper()
	k, err := s.NewTOTPKey(u, "Launchkit")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.EnableTOTP(t.Context(), u.ID, k.Secret(), codeAt(t, k.Secret(), c.now(), -1))
	if err != nil {
		t.Fatalf("EnableTOTP: %v", err)
	}
	return k.Secret(), codes
}

// storedSecret is user id's authenticator key as stored.
func storedSecret(t *testing.T, d *db.DB, id uint) []byte {
	t.Helper()
	var b []byte
	if err := d.Gorm.Raw("SELECT secret FROM user_totp WHERE user_id = ?", id).Row().Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// eventsOf lists the events of kind, oldest first.
func eventsOf(t *testing.T, d *db.DB, kind seclog.Kind) []seclog.Event {
	t.Helper()
	var list []seclog.Event
	if err := d.Gorm.Where("kind = ?", kind).Order("id").Find(&list).Error; err != nil {
		t.Fatal(err)
	}
	return list
}

func TestEnableTOTPNeedsAValidCode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		u := mustCreate(t, s, "ada@example.com")
		k, err := s.NewTOTPKey(u, "Launchkit")
		if err != nil {
			t.Fatal(err)
		}
		if !users.ValidTOTPSecret(k.Secret()) || !strings.Contains(k.URL(), "issuer=Launchkit") {
			t.Errorf("key %q, URL %q", k.Secret(), k.URL())
		}
		other, _ := s.NewTOTPKey(u, "Launchkit")
		for name, code := range map[string]string{
			"empty":           "",
			"letters":         "abcdef",
			"two steps ago":   codeAt(t, k.Secret(), c.now(), -2),
			"two steps ahead": codeAt(t, k.Secret(), c.now(), 2),
			"another key's":   codeAt(t, other.Secret(), c.now(), 0),
			"seven digits":    codeAt(t, k.Secret(), c.now(), 0) + "0",
		} {
			if _, err := s.EnableTOTP(ctx, u.ID, k.Secret(), code); !errors.Is(err, users.ErrWrongCode) {
				t.Errorf("EnableTOTP with a code %s: %v, want ErrWrongCode", name, err)
			}
		}
		if _, err := s.EnableTOTP(ctx, u.ID, "not base32!", "123456"); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("EnableTOTP with a bad key: %v", err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); f.Any() || f.TOTP {
			t.Fatalf("a wrong code turned it on: %+v", f)
		}
		codes, err := s.EnableTOTP(ctx, u.ID, k.Secret(), " "+codeAt(t, k.Secret(), c.now(), 0)+" ")
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != users.RecoveryCodeCount || users.RecoveryCodeCount != 10 {
			t.Fatalf("%d recovery codes", len(codes))
		}
		seen := map[string]bool{}
		for _, code := range codes {
			if len(code) != 11 || code[5] != '-' || code != strings.ToLower(code) || seen[code] {
				t.Errorf("recovery code %q (of %q)", code, codes)
			}
			seen[code] = true
		}
		f, err := s.SecondFactors(ctx, u.ID)
		if err != nil || !f.TOTP || f.RecoveryCodesLeft != 10 || f.Passkeys != 0 || !f.Any() || f.TOTPSince.IsZero() {
			t.Errorf("SecondFactors = %+v, %v", f, err)
		}
		if has, err := s.HasSecondFactor(ctx, u.ID); !has || err != nil {
			t.Errorf("HasSecondFactor = %v, %v", has, err)
		}
		if got, _ := s.ByID(ctx, u.ID); !got.SecondFactor {
			t.Error("ByID does not note the second factor")
		}
		if n := len(eventsOf(t, d, seclog.TwoFactorEnabled)); n != 1 {
			t.Errorf("%d two_factor_enabled events", n)
		}
		// The key is stored sealed, not as text.
		stored := storedSecret(t, d, u.ID)
		if len(stored) == 0 || strings.Contains(string(stored), k.Secret()) {
			t.Errorf("the stored key %q", stored)
		}
		// A second app needs the first one turned off.
		k2, _ := s.NewTOTPKey(u, "Launchkit")
		if _, err := s.EnableTOTP(ctx, u.ID, k2.Secret(), codeAt(t, k2.Secret(), c.now(), 0)); !errors.Is(err, users.ErrTOTPEnabled) {
			t.Errorf("enabling twice: %v", err)
		}
		// The code that turned it on counts as used.
		if _, err := s.CompleteSignIn(ctx, u, users.MethodPassword, codeAt(t, k.Secret(), c.now(), 0)); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("the enrolment code signs in: %v", err)
		}
		// Without Secrets nothing is enabled.
		s.Secrets = nil
		grace := mustCreate(t, s, "grace@example.com")
		if _, err := s.EnableTOTP(ctx, grace.ID, k.Secret(), codeAt(t, k.Secret(), c.now(), 1)); !errors.Is(err, users.ErrNoSecrets) {
			t.Errorf("without Secrets: %v", err)
		}
	})
}

// TestTOTPCodesAreGoodOnce: the codes of the step before, this one and
// the next are good, two steps off are not; each is good once, a code
// older than one used is refused, and of two requests with one code
// exactly one passes. Another account's code is refused.
func TestTOTPCodesAreGoodOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		ada := mustCreate(t, s, "ada@example.com")
		grace := mustCreate(t, s, "grace@example.com")
		c.advance(-time.Hour)
		secret, _ := enableTOTP(t, s, ada, c)
		graceSecret, _ := enableTOTP(t, s, grace, c)
		c.advance(time.Hour)

		complete := func(u *users.User, code string) error {
			_, err := s.CompleteSignIn(ctx, u, users.MethodPassword, code)
			return err
		}
		for _, steps := range []int{-2, 2} {
			if err := complete(ada, codeAt(t, secret, c.now(), steps)); !errors.Is(err, users.ErrWrongCode) {
				t.Errorf("a code %d steps off: %v", steps, err)
			}
		}
		if err := complete(ada, codeAt(t, graceSecret, c.now(), 0)); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("grace's code for ada: %v", err)
		}
		failed := len(eventsOf(t, d, seclog.TwoFactorFailed))
		if failed != 3 {
			t.Errorf("%d two_factor_failed events after three wrong codes", failed)
		}
		for _, steps := range []int{-1, 0, 1} {
			code := codeAt(t, secret, c.now(), steps)
			how, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, code)
			if err != nil || how != users.FactorTOTP {
				t.Fatalf("a code %d steps off: %q, %v", steps, how, err)
			}
			if err := complete(ada, code); !errors.Is(err, users.ErrWrongCode) {
				t.Errorf("the code of step %d again: %v", steps, err)
			}
		}
		// Step 0's code after step +1's was used: older, refused.
		if err := complete(ada, codeAt(t, secret, c.now(), 0)); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("an older code after a newer one: %v", err)
		}
		signIns := eventsOf(t, d, seclog.SignIn)
		if len(signIns) != 3 || signIns[0].Method != users.MethodPassword || signIns[0].Detail != "with "+users.FactorTOTP || *signIns[0].UserID != ada.ID {
			t.Errorf("sign-in events %+v", signIns)
		}

		// Two requests at once with grace's one code: exactly one passes.
		c.advance(5 * time.Minute)
		code := codeAt(t, graceSecret, c.now(), 0)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = complete(grace, code) })
		}
		wg.Wait()
		if won := winners(t, "a code used at once", errs, users.ErrWrongCode); won != 1 {
			t.Errorf("%d of %d requests with one code passed", won, len(errs))
		}
	})
}

// TestRecoveryCodes: ten, each good once, typed in any case with spaces
// and without its hyphen; new ones end the old ones.
func TestRecoveryCodes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		ada := mustCreate(t, s, "ada@example.com")
		grace := mustCreate(t, s, "grace@example.com")
		_, codes := enableTOTP(t, s, ada, c)
		_, graceCodes := enableTOTP(t, s, grace, c)

		if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, graceCodes[0]); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("grace's recovery code for ada: %v", err)
		}
		typed := []string{
			codes[0],
			strings.ToUpper(codes[1]),
			strings.ReplaceAll(codes[2], "-", ""),
			" " + codes[3][:3] + " " + codes[3][3:] + " ",
			strings.ToUpper(strings.ReplaceAll(codes[4], "-", " ")),
		}
		for i, code := range typed {
			how, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, code)
			if err != nil || how != users.FactorRecoveryCode {
				t.Fatalf("recovery code %q: %q, %v", code, how, err)
			}
			if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, codes[i]); !errors.Is(err, users.ErrWrongCode) {
				t.Errorf("recovery code %q twice: %v", codes[i], err)
			}
		}
		if f, _ := s.SecondFactors(ctx, ada.ID); f.RecoveryCodesLeft != 5 {
			t.Errorf("%d recovery codes left, want 5", f.RecoveryCodesLeft)
		}
		if used := eventsOf(t, d, seclog.RecoveryCodeUsed); len(used) != 5 || *used[0].UserID != ada.ID {
			t.Errorf("recovery_code_used events %+v", used)
		}
		if signIns := eventsOf(t, d, seclog.SignIn); len(signIns) != 5 || signIns[0].Detail != "with "+users.FactorRecoveryCode {
			t.Errorf("sign-in events %+v", signIns)
		}

		fresh, err := s.RegenerateRecoveryCodes(ctx, ada.ID)
		if err != nil || len(fresh) != 10 {
			t.Fatalf("RegenerateRecoveryCodes = %d codes, %v", len(fresh), err)
		}
		if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, codes[9]); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("an old, unused recovery code after new ones: %v", err)
		}
		if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, fresh[9]); err != nil {
			t.Errorf("a new recovery code: %v", err)
		}
		if f, _ := s.SecondFactors(ctx, ada.ID); f.RecoveryCodesLeft != 9 {
			t.Errorf("%d recovery codes left, want 9", f.RecoveryCodesLeft)
		}
		if n := len(eventsOf(t, d, seclog.RecoveryCodesRegenerated)); n != 1 {
			t.Errorf("%d recovery_codes_regenerated events", n)
		}
		// Grace's are untouched.
		if _, err := s.CompleteSignIn(ctx, grace, users.MethodPassword, graceCodes[1]); err != nil {
			t.Errorf("grace's recovery code after ada's were renewed: %v", err)
		}
		// No authenticator app, no recovery codes.
		bob := mustCreate(t, s, "bob@example.com")
		if _, err := s.RegenerateRecoveryCodes(ctx, bob.ID); !errors.Is(err, users.ErrNoSecondFactor) {
			t.Errorf("recovery codes without an app: %v", err)
		}
		// A recovery code used at once by two requests passes once.
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = s.CompleteSignIn(ctx, ada, users.MethodPassword, fresh[0]) })
		}
		wg.Wait()
		if won := winners(t, "a recovery code used at once", errs, users.ErrWrongCode); won != 1 {
			t.Errorf("%d of %d requests with one recovery code passed", won, len(errs))
		}
	})
}

// TestDisableTOTPNeedsPasswordAndCode: a stolen session alone cannot turn
// the app off: it needs the password and a code, and it ends the other
// sessions (a new session key).
func TestDisableTOTPNeedsPasswordAndCode(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		u := mustCreate(t, s, "ada@example.com")
		u, err := s.EnsureSessionKey(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		secret, codes := enableTOTP(t, s, u, c)
		code := codeAt(t, secret, c.now(), 0)

		if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, "", code); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("without the password: %v", err)
		}
		if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, "not the password", code); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("with a wrong password: %v", err)
		}
		if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, password, ""); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("without a code: %v", err)
		}
		if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, password, codeAt(t, secret, c.now(), 3)); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("with a wrong code: %v", err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); !f.TOTP || f.RecoveryCodesLeft != 10 {
			t.Fatalf("refused attempts changed the factors: %+v", f)
		}
		if _, err := s.DisableTOTP(ctx, u.ID, "another session's key", password, code); !errors.Is(err, users.ErrSessionEnded) {
			t.Errorf("from an ended session: %v", err)
		}
		// That attempt rolled back: the code was not spent.
		after, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, password, code)
		if err != nil {
			t.Fatalf("DisableTOTP: %v", err)
		}
		if after.SessionKey == "" || after.SessionKey == u.SessionKey {
			t.Errorf("the session key did not change: %q", after.SessionKey)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); f.Any() || f.RecoveryCodesLeft != 0 {
			t.Errorf("after DisableTOTP: %+v", f)
		}
		if _, err := s.CompleteSignIn(ctx, u, users.MethodPassword, codes[0]); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("a recovery code after DisableTOTP: %v", err)
		}
		if n := len(eventsOf(t, d, seclog.TwoFactorDisabled)); n != 1 {
			t.Errorf("%d two_factor_disabled events", n)
		}
		if _, err := s.DisableTOTP(ctx, u.ID, after.SessionKey, password, code); !errors.Is(err, users.ErrNoSecondFactor) {
			t.Errorf("disabling twice: %v", err)
		}
		// A recovery code turns it off too (the phone is lost).
		secret2, codes2 := enableTOTP(t, s, after, c)
		_ = secret2
		if _, err := s.DisableTOTP(ctx, u.ID, after.SessionKey, password, strings.ToUpper(codes2[0])); err != nil {
			t.Errorf("DisableTOTP with a recovery code: %v", err)
		}
	})
}

// TestTOTPKeyAfterASecretKeyRotation: a key sealed under the old
// SECRET_KEY still checks codes while that key is a fallback, and is
// sealed again under the new one; with no fallback it cannot be read.
func TestTOTPKeyAfterASecretKeyRotation(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		s.Secrets = sealer(t, olderSecret)
		ada := mustCreate(t, s, "ada@example.com")
		grace := mustCreate(t, s, "grace@example.com")
		secret, _ := enableTOTP(t, s, ada, c)
		graceSecret, graceCodes := enableTOTP(t, s, grace, c)
		if _, _, err := sealer(t, secretKey).Open(storedSecret(t, d, ada.ID), nil); err == nil {
			t.Fatal("test setup: the new key opens the old seal")
		}

		s.Secrets = sealer(t, secretKey, olderSecret)
		if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, codeAt(t, secret, c.now(), 0)); err != nil {
			t.Fatalf("a code with the key sealed under a fallback: %v", err)
		}
		// Sealed again under the current key: it reads without the fallback.
		s.Secrets = sealer(t, secretKey)
		if _, err := s.CompleteSignIn(ctx, ada, users.MethodPassword, codeAt(t, secret, c.now(), 1)); err != nil {
			t.Errorf("after the fallback was dropped, a re-sealed key: %v", err)
		}
		// Grace's never was: it cannot be read, and a recovery code still works.
		if _, err := s.CompleteSignIn(ctx, grace, users.MethodPassword, codeAt(t, graceSecret, c.now(), 0)); !errors.Is(err, users.ErrUnreadableKey) {
			t.Errorf("a key sealed under a dropped SECRET_KEY: %v, want ErrUnreadableKey", err)
		}
		if _, err := s.CompleteSignIn(ctx, grace, users.MethodPassword, graceCodes[0]); err != nil {
			t.Errorf("a recovery code when the key cannot be read: %v", err)
		}
	})
}

// TestResetSecondFactorsBy: an admin's reset removes the app, the
// recovery codes and the passkeys, ends the sessions, and is recorded
// with the admin as actor.
func TestResetSecondFactorsBy(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		admin := mustCreate(t, s, "root@example.com", users.RoleAdmin)
		u := mustCreate(t, s, "ada@example.com")
		u, _ = s.EnsureSessionKey(ctx, u)
		_, codes := enableTOTP(t, s, u, c)
		if err := d.Gorm.Exec("INSERT INTO passkeys (user_id, name, credential_id, credential, sign_count, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			u.ID, "Laptop", "cred-1", "{}", 0, time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); !f.TOTP || f.Passkeys != 1 {
			t.Fatalf("before the reset: %+v", f)
		}
		if err := s.ResetSecondFactorsBy(ctx, admin.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if f, _ := s.SecondFactors(ctx, u.ID); f.Any() || f.RecoveryCodesLeft != 0 || f.Passkeys != 0 {
			t.Errorf("after the reset: %+v", f)
		}
		if after, _ := s.ByID(ctx, u.ID); after.SessionKey == u.SessionKey || after.SecondFactor {
			t.Errorf("after the reset the session key is the same, or SecondFactor %v", after.SecondFactor)
		}
		if _, err := s.CompleteSignIn(ctx, u, users.MethodPassword, codes[0]); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("a recovery code after the reset: %v", err)
		}
		resets := eventsOf(t, d, seclog.TwoFactorReset)
		if len(resets) != 1 || resets[0].UserID == nil || *resets[0].UserID != u.ID || resets[0].ActorID == nil || *resets[0].ActorID != admin.ID || resets[0].Method != users.MethodAdmin {
			t.Errorf("two_factor_reset events %+v", resets)
		}
		// By an operator's command: no actor.
		if err := s.ResetSecondFactorsBy(ctx, 0, u.ID); err != nil {
			t.Fatal(err)
		}
		if resets := eventsOf(t, d, seclog.TwoFactorReset); len(resets) != 2 || resets[1].ActorID != nil || resets[1].Method != users.MethodManage {
			t.Errorf("two_factor_reset events %+v", resets)
		}
		if err := s.ResetSecondFactorsBy(ctx, admin.ID, 9999); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("reset of no user: %v", err)
		}
	})
}

// TestWithoutSecondFactor lists the active holders of the roles (or of
// admin) without a second factor, and RequiresSecondFactor agrees.
func TestWithoutSecondFactor(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		mustCreate(t, s, "admin@example.com", users.RoleAdmin)
		mustCreate(t, s, "dev@example.com", users.RoleDev)
		guarded := mustCreate(t, s, "guarded@example.com", users.RoleDev)
		enableTOTP(t, s, guarded, c)
		keyed := mustCreate(t, s, "keyed@example.com", users.RoleAdmin)
		if err := d.Gorm.Exec("INSERT INTO passkeys (user_id, name, credential_id, credential, sign_count, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			keyed.ID, "Phone", "cred-2", "{}", 0, time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		gone := mustCreate(t, s, "gone@example.com", users.RoleDev)
		if err := d.Gorm.Exec("UPDATE users SET active = ? WHERE id = ?", false, gone.ID).Error; err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, "user@example.com", users.RoleUser)

		emails := func(roles ...string) string {
			list, err := s.WithoutSecondFactor(ctx, roles)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, u := range list {
				out = append(out, u.Email)
				if !users.RequiresSecondFactor(&u, roles) {
					t.Errorf("%s is listed for %v but RequiresSecondFactor says no", u.Email, roles)
				}
			}
			return strings.Join(out, " ")
		}
		// In this order on purpose: MariaDB re-ran the prepared statement
		// of "admin" (admin, admin) for "user" and listed the admin twice.
		for _, c := range []struct{ roles, want string }{
			{"", ""},
			{"admin", "admin@example.com"},
			{"user", "admin@example.com dev@example.com user@example.com"}, // every account holds user
			{"dev", "admin@example.com dev@example.com"},
			{"admin dev", "admin@example.com dev@example.com"},
			{"user", "admin@example.com dev@example.com user@example.com"},
			{"dev admin dev", "admin@example.com dev@example.com"},
		} {
			if got := emails(strings.Fields(c.roles)...); got != c.want {
				t.Errorf("WithoutSecondFactor(%q) = %q, want %q", c.roles, got, c.want)
			}
		}
		// The caller's slice is not written to.
		roles := make([]string, 1, 2)
		roles[0] = users.RoleDev
		extended := roles[:2]
		extended[1] = "untouched"
		emails(roles...)
		if extended[1] != "untouched" {
			t.Errorf("WithoutSecondFactor wrote %q past the roles it was given", extended[1])
		}
	})
}

// TestSignInWithASecondFactorRecordsOnlyWhenComplete: the password step of
// an account with a second factor records nothing; CompleteSignIn records
// the sign-in, or a wrong code.
func TestSignInWithASecondFactorRecordsOnlyWhenComplete(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		u := mustCreate(t, s, "ada@example.com")
		secret, _ := enableTOTP(t, s, u, c)
		for _, signIn := range []func() (*users.User, error){
			func() (*users.User, error) { return s.SignIn(ctx, "ada@example.com", password) },
			func() (*users.User, error) { return s.SignInForAPI(ctx, "ada@example.com", password) },
		} {
			got, err := signIn()
			if err != nil || !got.SecondFactor {
				t.Fatalf("SignIn = %+v, %v; want SecondFactor", got, err)
			}
			if n := len(eventsOf(t, d, seclog.SignIn)); n != 0 {
				t.Errorf("%d sign_in events before the second step", n)
			}
		}
		half, _ := s.SignIn(ctx, "ada@example.com", password)
		if half.SignInMethod != users.MethodPassword {
			t.Errorf("SignInMethod = %q", half.SignInMethod)
		}
		// A wrong password is still recorded as a failure.
		if _, err := s.SignIn(ctx, "ada@example.com", "wrong"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if n := len(eventsOf(t, d, seclog.SignInFailed)); n != 1 {
			t.Errorf("%d sign_in_failed events", n)
		}

		if _, err := s.CompleteSignIn(ctx, half, "", "000000"); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("a wrong code: %v", err)
		}
		failed := eventsOf(t, d, seclog.TwoFactorFailed)
		if len(failed) != 1 || *failed[0].UserID != u.ID || failed[0].Method != users.MethodPassword {
			t.Errorf("two_factor_failed events %+v", failed)
		}
		if n := len(eventsOf(t, d, seclog.SignIn)); n != 0 {
			t.Errorf("%d sign_in events after a wrong code", n)
		}
		if _, err := s.CompleteSignIn(ctx, half, "", codeAt(t, secret, c.now(), 0)); err != nil {
			t.Fatal(err)
		}
		signIns := eventsOf(t, d, seclog.SignIn)
		if len(signIns) != 1 || *signIns[0].UserID != u.ID || signIns[0].Method != users.MethodPassword || signIns[0].Detail != "with authenticator app" {
			t.Errorf("sign_in events %+v", signIns)
		}
		// An account without a second factor: recorded at once.
		mustCreate(t, s, "grace@example.com")
		if got, err := s.SignIn(ctx, "grace@example.com", password); err != nil || got.SecondFactor {
			t.Fatalf("SignIn = %+v, %v", got, err)
		}
		if n := len(eventsOf(t, d, seclog.SignIn)); n != 2 {
			t.Errorf("%d sign_in events, want 2", n)
		}
	})
}

// TestDisableTOTPOfADirectoryAccountNeedsItsDirectoryPassword: a
// directory account keeps no password hash here, but it has a password
// (the directory's): turning its app off needs it like any other.
func TestDisableTOTPOfADirectoryAccountNeedsItsDirectoryPassword(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		c := newClock()
		withMFA(t, s, d, c)
		dir := withDirectory(s)
		dir.add("alice", "alice@example.org", "alice-pw")
		u, err := s.SignIn(ctx, "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := enableTOTP(t, s, u, c)
		// The second step applies to a directory bind too.
		if half, err := s.SignIn(ctx, "alice", "alice-pw"); err != nil || !half.SecondFactor || half.SignInMethod != users.MethodDirectory {
			t.Fatalf("directory SignIn with an app = %+v, %v", half, err)
		}
		code := codeAt(t, secret, c.now(), 0)
		for _, pw := range []string{"", "not-alice-pw"} {
			if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, pw, code); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Errorf("DisableTOTP of a directory account with password %q: %v", pw, err)
			}
		}
		if _, err := s.DisableTOTP(ctx, u.ID, u.SessionKey, "alice-pw", code); err != nil {
			t.Errorf("DisableTOTP with the directory password: %v", err)
		}
	})
}
