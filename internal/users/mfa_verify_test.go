package users_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/users"
)

// withTOTP gives s a key to seal authenticator keys with and a clock
// fixed at now, and turns on an authenticator app for u; it returns the
// key and the recovery codes.
func withTOTP(t *testing.T, s *users.Service, u *users.User, now *time.Time) (string, []string) {
	t.Helper()
	k, err := keyring.New(strings.Repeat("k", 40), nil, "https://app.example")
	if err != nil {
		t.Fatal(err)
	}
	s.Secrets = k.AtRestSealer(keyring.SecondFactor)
	s.Now = func() time.Time { return *now }
	key, err := s.NewTOTPKey(u, "Launchkit")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), *now)
	codes, err := s.EnableTOTP(t.Context(), u.ID, key.Secret(), code)
	if err != nil {
		t.Fatal(err)
	}
	*now = now.Add(30 * time.Second)
	return key.Secret(), codes
}

// TestVerifyTOTP: a current code of the app passes once, even from
// requests at once; a recovery code does not pass, and is not spent.
func TestVerifyTOTP(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		u := mustCreate(t, s, "ada@example.com")
		now := time.Now().UTC()
		secret, codes := withTOTP(t, s, u, &now)
		code, _ := totp.GenerateCode(secret, now)

		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = s.VerifyTOTP(t.Context(), u.ID, code) })
		}
		wg.Wait()
		if n := winners(t, "VerifyTOTP at once", errs, users.ErrWrongCode); n != 1 {
			t.Errorf("%d requests with one code passed, want 1", n)
		}
		if err := s.VerifyTOTP(t.Context(), u.ID, codes[0]); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("a recovery code: %v, want ErrWrongCode", err)
		}
		if f, _ := s.SecondFactors(t.Context(), u.ID); f.RecoveryCodesLeft != users.RecoveryCodeCount {
			t.Errorf("%d recovery codes left after VerifyTOTP tried one, want all", f.RecoveryCodesLeft)
		}
		other := mustCreate(t, s, "grace@example.com")
		if err := s.VerifyTOTP(t.Context(), other.ID, code); !errors.Is(err, users.ErrWrongCode) {
			t.Errorf("ada's code for grace, who has no app: %v", err)
		}

		has, err := s.WithSecondFactor(t.Context(), []uint{u.ID, other.ID, 999999})
		if err != nil || !has[u.ID] || has[other.ID] || len(has) != 1 {
			t.Errorf("WithSecondFactor = %v, %v", has, err)
		}
		if has, err := s.WithSecondFactor(t.Context(), nil); err != nil || len(has) != 0 {
			t.Errorf("WithSecondFactor(nil) = %v, %v", has, err)
		}
	})
}
