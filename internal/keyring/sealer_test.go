package keyring_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/launchkit/launchkit/internal/keyring"
)

// TestSealerOpensWhatItSealed: a value sealed with the current key opens
// (current), one sealed under a key now among the fallbacks opens too
// (not current: it should be sealed again), and every other key, purpose,
// deployment or additional data refuses it, as does a changed byte.
func TestSealerOpensWhatItSealed(t *testing.T) {
	const base = "https://app.example.com"
	plain, ad := []byte("JBSWY3DPEHPK3PXP"), []byte("user_totp\x0042")
	current := mustNew(t, key, []string{olderKey}, base).Sealer(keyring.SecondFactor)

	sealed := current.Seal(plain, ad)
	if bytes.Contains(sealed, plain) {
		t.Fatal("the sealed value holds the plain text")
	}
	if again := current.Seal(plain, ad); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are the same bytes: the nonce is not random")
	}
	got, isCurrent, err := current.Open(sealed, ad)
	if err != nil || !isCurrent || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v, %v; want the plain text, current", got, isCurrent, err)
	}

	// Sealed when olderKey was SECRET_KEY: opens while it is a fallback.
	old := mustNew(t, olderKey, nil, base).Sealer(keyring.SecondFactor).Seal(plain, ad)
	got, isCurrent, err = current.Open(old, ad)
	if err != nil || isCurrent || !bytes.Equal(got, plain) {
		t.Errorf("a value sealed under a fallback key: %q, current %v, %v; want the plain text, not current", got, isCurrent, err)
	}

	for name, c := range map[string]struct {
		s      *keyring.Sealer
		sealed []byte
		ad     []byte
	}{
		"the fallback dropped": {mustNew(t, key, nil, base).Sealer(keyring.SecondFactor), old, ad},
		"another purpose":      {mustNew(t, key, []string{olderKey}, base).Sealer(keyring.PasskeyChallenge), sealed, ad},
		"another deployment":   {mustNew(t, key, []string{olderKey}, "https://staging.example.com").Sealer(keyring.SecondFactor), sealed, ad},
		"another row":          {current, sealed, []byte("user_totp\x0043")},
		"no additional data":   {current, sealed, nil},
		"a changed byte":       {current, flip(sealed, len(sealed)/2), ad},
		"a changed nonce":      {current, flip(sealed, 0), ad},
		"a changed tag":        {current, flip(sealed, len(sealed)-1), ad},
		"cut short":            {current, sealed[:len(sealed)-1], ad},
		"shorter than a nonce": {current, sealed[:5], ad},
		"empty":                {current, nil, ad},
	} {
		if got, _, err := c.s.Open(c.sealed, c.ad); !errors.Is(err, keyring.ErrCannotOpen) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrCannotOpen", name, got, err)
		}
	}
}

// flip returns a copy of b with byte i changed.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x01
	return c
}

// TestAtRestSealerOutlivesAMoveOfTheSite: what the at-rest sealer seals
// still opens after BASE_URL changes (the keys of authenticator apps must
// not be lost with a new domain), but not under another purpose, the
// deployment-bound sealer of the same purpose, or without the key.
func TestAtRestSealerOutlivesAMoveOfTheSite(t *testing.T) {
	plain, ad := []byte("JBSWY3DPEHPK3PXP"), []byte("user_totp\x0042")
	sealed := mustNew(t, key, nil, "https://app.example.com").AtRestSealer(keyring.SecondFactor).Seal(plain, ad)

	moved := mustNew(t, key, nil, "https://new-name.example.org/app").AtRestSealer(keyring.SecondFactor)
	if got, _, err := moved.Open(sealed, ad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("after a move of the site: Open = %q, %v; want the plain text", got, err)
	}
	rotated := mustNew(t, "a newer secret key, at least 32 bytes long", []string{key}, "https://app.example.com").AtRestSealer(keyring.SecondFactor)
	if got, current, err := rotated.Open(sealed, ad); err != nil || current || !bytes.Equal(got, plain) {
		t.Errorf("under a fallback: Open = %q, current %v, %v; want the plain text, not current", got, current, err)
	}
	for name, s := range map[string]*keyring.Sealer{
		"another purpose":              mustNew(t, key, nil, "https://app.example.com").AtRestSealer(keyring.PasskeyChallenge),
		"the deployment-bound sealer":  mustNew(t, key, nil, "https://app.example.com").Sealer(keyring.SecondFactor),
		"another key and no fallbacks": mustNew(t, olderKey, nil, "https://app.example.com").AtRestSealer(keyring.SecondFactor),
	} {
		if _, _, err := s.Open(sealed, ad); !errors.Is(err, keyring.ErrCannotOpen) {
			t.Errorf("%s: Open = %v; want ErrCannotOpen", name, err)
		}
	}
}
