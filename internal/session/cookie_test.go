package session_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/session"
)

func cookieManager(t *testing.T, opts session.Options, key string, fallbacks ...string) *session.Cookie {
	t.Helper()
	keys, err := keyring.New(key, fallbacks, "http://localhost:8000")
	if err != nil {
		t.Fatal(err)
	}
	return session.NewCookie(keys, opts)
}

// secretValue is what the tests keep in a session; secretMarker is the
// part of it an unencrypted cookie would show.
const (
	secretMarker = "plaintext-session-value"
	secretValue  = secretMarker + " Zoë ☃"
)

const (
	oldKey = "the old secret key, at least 32 bytes long"
	newKey = "the new secret key, at least 32 bytes long"
)

// TestCookieSessions: the cookie manager behaves as the server-side ones
// do — values read back, flashes shown once, destroy ends it, a request
// that changes nothing sets no cookie — and keeps nothing on the server.
func TestCookieSessions(t *testing.T) {
	m := cookieManager(t, testCookie, newKey)
	b := &browser{t: t, app: newApp(m, failOnError(t))}
	if res := b.get("/nothing"); res.setCookies != 0 {
		t.Errorf("an anonymous request set %d cookies", res.setCookies)
	}
	c := b.post("/put", url.Values{"v": {secretValue}}).setCookie
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Fatalf("cookie = %v", c)
	}
	// The cookie is base64 of time|base64(payload)|MAC: the payload must
	// be ciphertext, not the serialized session.
	outer, _ := base64.URLEncoding.DecodeString(c.Value)
	parts := strings.SplitN(string(outer), "|", 3)
	if len(parts) != 3 {
		t.Fatalf("the cookie is not in securecookie's format: %q", outer)
	}
	payload, _ := base64.URLEncoding.DecodeString(parts[1])
	if len(payload) == 0 || strings.Contains(string(payload), secretMarker) {
		t.Errorf("the cookie shows its content: %q", c.Value)
	}
	for range 5 {
		if res := b.get("/get"); res.body != secretValue || res.setCookies != 0 {
			t.Fatalf("a steady request read %q and set %d cookies", res.body, res.setCookies)
		}
	}
	b.post("/flash", url.Values{"kind": {"success"}, "msg": {"Saved."}})
	if got := b.get("/flashes").body; !strings.Contains(got, "Saved.") {
		t.Errorf("flashes = %s", got)
	}
	if again := b.get("/flashes").body; strings.TrimSpace(again) != "null" {
		t.Errorf("second pop = %s", again)
	}
	b.post("/renew", nil)
	if got := b.get("/get").body; got != secretValue {
		t.Errorf("after renew read %q", got)
	}
	if c := b.post("/destroy", nil).setCookie; c == nil || c.MaxAge >= 0 {
		t.Fatalf("destroy set %v, want the cookie cleared", c)
	}
	if got := b.get("/get").body; got != "" {
		t.Errorf("after destroy read %q", got)
	}

	// A cookie changed by the client is no session at all.
	tampered := &browser{t: t, app: b.app, cookie: &http.Cookie{Name: cookieName, Value: c.Value[:len(c.Value)-4] + "AAAA"}}
	if got := tampered.get("/get").body; got != "" {
		t.Errorf("a tampered cookie read %q", got)
	}
}

// TestSecretKeyRotation: a cookie made with the old key still reads once
// the old key is in SECRET_KEY_FALLBACKS, and is made again with the new
// key; with the old key dropped, only cookies made with the new one read.
func TestSecretKeyRotation(t *testing.T) {
	before := &browser{t: t, app: newApp(cookieManager(t, testCookie, oldKey), failOnError(t))}
	before.post("/put", url.Values{"v": {"kept"}})
	oldCookie := before.cookie

	rotating := &browser{t: t, app: newApp(cookieManager(t, testCookie, newKey, oldKey), failOnError(t)), cookie: oldCookie}
	res := rotating.get("/get")
	if res.body != "kept" {
		t.Fatalf("with the old key as a fallback, an old cookie reads %q", res.body)
	}
	if res.setCookie == nil || res.setCookie.Value == oldCookie.Value {
		t.Fatal("an old cookie read with a fallback key was not made again with the new key")
	}

	after := newApp(cookieManager(t, testCookie, newKey), failOnError(t))
	if got := (&browser{t: t, app: after, cookie: rotating.cookie}).get("/get").body; got != "kept" {
		t.Errorf("the re-made cookie with the old key dropped reads %q", got)
	}
	if got := (&browser{t: t, app: after, cookie: oldCookie}).get("/get").body; got != "" {
		t.Errorf("an old cookie with the old key dropped still reads %q", got)
	}
}

// TestCookieSessionsExpire: idle timeout and lifetime hold for cookie
// sessions too (they are inside the signed cookie, not just its Expires).
func TestCookieSessionsExpire(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		m := cookieManager(t, session.Options{Name: cookieName, Lifetime: time.Hour, IdleTimeout: 400 * time.Millisecond}, newKey)
		b := &browser{t: t, app: newApp(m, failOnError(t))}
		b.post("/put", url.Values{"v": {"busy"}})
		stale := b.cookie
		for start := time.Now(); time.Since(start) < 800*time.Millisecond; time.Sleep(100 * time.Millisecond) {
			if got := b.get("/get").body; got != "busy" {
				t.Fatalf("a busy session read %q", got)
			}
		}
		if got := (&browser{t: t, app: b.app, cookie: stale}).get("/get").body; got != "" {
			t.Errorf("a copy of the cookie unused for longer than the idle timeout still reads %q", got)
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		t.Parallel()
		m := cookieManager(t, session.Options{Name: cookieName, Lifetime: 500 * time.Millisecond, IdleTimeout: time.Hour}, newKey)
		b := &browser{t: t, app: newApp(m, failOnError(t))}
		b.post("/put", url.Values{"v": {"busy"}})
		for start := time.Now(); time.Since(start) < 700*time.Millisecond; time.Sleep(50 * time.Millisecond) {
			b.get("/get")
		}
		if got := b.get("/get").body; got != "" {
			t.Errorf("after its lifetime a busy session reads %q", got)
		}
	})
}
