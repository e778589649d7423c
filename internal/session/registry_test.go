package session_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/testenv"
)

// TestRegistryTokens: a row's token opens with the deployment's keys,
// also after SECRET_KEY is rotated (the old key a fallback), but not with
// another deployment's keys, nor once moved to another row.
func TestRegistryTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	if err := d.Gorm.Exec("INSERT INTO users (id, email, password_hash, session_key) VALUES (1, 'a@example.com', '', 'k1'), (2, 'b@example.com', '', 'k2')").Error; err != nil {
		t.Fatal(err)
	}
	keys := func(secret string, fallbacks ...string) *keyring.Keyring {
		k, err := keyring.New(secret, fallbacks, "https://app.example.com")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	const oldKey, newKey = "the old secret key, at least 32 bytes long", "the new secret key, at least 32 bytes long"
	reg := func(k *keyring.Keyring) *session.Registry {
		r, err := session.NewRegistry(d, k, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := reg(keys(oldKey))
	for _, e := range []session.SignedIn{{UserID: 1, SessionKey: "k1", SID: "one"}, {UserID: 2, SessionKey: "k2", SID: "two"}} {
		e.ExpiresAt = time.Now().Add(time.Hour)
		if err := r.Add(ctx, e, "token of "+e.SID); err != nil {
			t.Fatal(err)
		}
	}
	one, err := r.Find(ctx, 1, "k1", "one")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Find(ctx, 2, "k2", "one"); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("another user's session found: %v", err)
	}
	if _, err := r.Find(ctx, 1, "a newer key", "one"); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("a session of an older session key found: %v", err)
	}
	for name, tc := range map[string]struct {
		r    *session.Registry
		want string
	}{
		"same keys":          {r, "token of one"},
		"rotated":            {reg(keys(newKey, oldKey)), "token of one"},
		"another deployment": {reg(keys(newKey)), ""},
	} {
		got, err := tc.r.TokenOf(one)
		if got != tc.want || (tc.want == "") != errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s: TokenOf = %q, %v; want %q", name, got, err, tc.want)
		}
	}
	moved := one
	moved.SID = "two"
	if got, err := r.TokenOf(moved); err == nil {
		t.Errorf("a token moved to another row opened: %q", got)
	}
}
