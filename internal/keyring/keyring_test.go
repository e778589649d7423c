package keyring_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/launchkit/launchkit/internal/keyring"
)

const (
	key      = "the current secret key, at least 32 bytes"
	olderKey = "an older secret key, also at least 32 bytes"
)

func mustNew(t *testing.T, secret string, fallbacks []string, baseURL string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(secret, fallbacks, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeysAreBoundToPurposeAndDeployment: one SECRET_KEY gives different
// keys for each purpose, each use and each deployment, and the same keys
// for the same three every time.
func TestKeysAreBoundToPurposeAndDeployment(t *testing.T) {
	prod := mustNew(t, key, nil, "https://app.example.com")
	first := prod.Keys(keyring.SessionCookie, "HMAC-SHA256", 32)[0]
	for name, other := range map[string][]byte{
		"another purpose":    prod.Keys(keyring.DeviceCookie, "HMAC-SHA256", 32)[0],
		"another use":        prod.Keys(keyring.SessionCookie, "AES-256", 32)[0],
		"another deployment": mustNew(t, key, nil, "https://staging.example.com").Keys(keyring.SessionCookie, "HMAC-SHA256", 32)[0],
		"another path":       mustNew(t, key, nil, "https://app.example.com/other").Keys(keyring.SessionCookie, "HMAC-SHA256", 32)[0],
		"another secret":     mustNew(t, olderKey, nil, "https://app.example.com").Keys(keyring.SessionCookie, "HMAC-SHA256", 32)[0],
		"the secret itself":  []byte(key)[:32],
	} {
		if bytes.Equal(first, other) {
			t.Errorf("%s gives the same key", name)
		}
	}
	// The same deployment, spelled as BASE_URL may be, derives the same.
	for _, same := range []string{"https://app.example.com", "HTTPS://App.Example.com/", " https://app.example.com "} {
		if got := mustNew(t, key, nil, same).Keys(keyring.SessionCookie, "HMAC-SHA256", 32)[0]; !bytes.Equal(first, got) {
			t.Errorf("BASE_URL %q derives another key than https://app.example.com", same)
		}
	}
	if got := len(prod.Keys(keyring.SessionCookie, "HMAC-SHA256", 64)[0]); got != 64 {
		t.Errorf("asked for 64 bytes, got %d", got)
	}
}

// TestFallbackKeysComeAfterTheCurrentOne: the current key's value reads
// with every codec list that holds it; a value made with an older key
// reads while that key is a fallback, and not once it is dropped.
func TestFallbackKeysComeAfterTheCurrentOne(t *testing.T) {
	rotating := mustNew(t, key, []string{olderKey, ""}, "http://localhost:8000")
	if n := len(rotating.Keys(keyring.DeviceCookie, "x", 32)); n != 2 {
		t.Fatalf("%d keys for a current key and one fallback (and an empty one)", n)
	}
	old := mustNew(t, olderKey, nil, "http://localhost:8000").Codecs(keyring.DeviceCookie, time.Hour)
	value, err := securecookie.EncodeMulti("device", []byte("made with the older key"), old...)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := securecookie.DecodeMulti("device", value, &got, rotating.Codecs(keyring.DeviceCookie, time.Hour)...); err != nil || string(got) != "made with the older key" {
		t.Errorf("with the older key as a fallback: %q, %v", got, err)
	}
	if err := securecookie.DecodeMulti("device", value, &got, mustNew(t, key, nil, "http://localhost:8000").Codecs(keyring.DeviceCookie, time.Hour)...); err == nil {
		t.Error("a value made with a dropped key still reads")
	}
	// A value made for one purpose is refused for another.
	if err := securecookie.DecodeMulti("device", value, &got, mustNew(t, olderKey, nil, "http://localhost:8000").Codecs(keyring.SessionCookie, time.Hour)...); err == nil {
		t.Error("a device cookie value reads as a session cookie")
	}
}

func TestNoSecretNoKeyring(t *testing.T) {
	if _, err := keyring.New("", []string{olderKey}, "http://localhost:8000"); !errors.Is(err, keyring.ErrNoKey) {
		t.Errorf("New without a key: %v", err)
	}
}
