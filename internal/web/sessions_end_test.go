package web_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
)

// TestCredentialChangesEndOtherSessions: a password change or reset,
// deactivation, and "sign out everywhere" end every other session of the
// user, on every session store; the browser that changed the password
// stays signed in.
func TestCredentialChangesEndOtherSessions(t *testing.T) {
	t.Parallel()
	const email, pw = "ada@example.com", "password for ada@example.com"
	for _, store := range []string{"database", "memory", "redis", "cookie"} {
		t.Run(store, func(t *testing.T) {
			s := newSite(t, map[string]string{"SESSION_STORE": store})
			me := s.signedIn(email, "dev")
			thief := s.visitorAs(email, pw)

			t.Run("password change", func(t *testing.T) {
				me.post("/user/change-password", "old_password", pw, "password", "a brand new password", "retype_password", "a brand new password").
					redirectsTo("/user/profile")
				me.get("/user/profile").status(200).contains(email)
				thief.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
			})

			t.Run("password reset", func(t *testing.T) {
				thief := s.visitorAs(email, "a brand new password")
				s.visitor().post("/user/forgot-password", "email", email)
				rescuer := s.visitor()
				rescuer.post(s.lastLink(email), "password", "the reset password", "retype_password", "the reset password").redirectsTo("/")
				rescuer.get("/user/profile").status(200).contains(email)
				thief.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
				me.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
				me = rescuer
			})

			t.Run("sign out of all other sessions", func(t *testing.T) {
				other := s.visitorAs(email, "the reset password")
				me.get("/user/security").status(200).contains(`action="/user/sign-out-others"`)
				// A stolen session alone cannot sign its owner out.
				other.post("/user/sign-out-others", "password", "a guess").status(422).contains("This is not your password.", `id="sign-out-others-form"`)
				me.get("/user/profile").status(200)
				me.post("/user/sign-out-others", "password", "the reset password").redirectsTo("/user/security")
				me.get("/user/security").status(200).contains("Signed out of every other session.")
				other.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
			})

			t.Run("deactivation, even once reactivated", func(t *testing.T) {
				admin := s.signedIn("admin-"+store+"@example.com", "admin")
				u, err := s.app.Users.ByEmail(context.Background(), email)
				if err != nil {
					t.Fatal(err)
				}
				edit := fmt.Sprintf("/admin/users/%d/edit", u.ID)
				admin.post(edit, "email", email, "roles", "dev").redirectsTo("/admin/users")
				admin.post(edit, "email", email, "active", "on", "roles", "dev").redirectsTo("/admin/users")
				me.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")

				me = s.visitorAs(email, "the reset password")
				admin.get(edit).status(200).contains(`action="` + edit[:len(edit)-len("/edit")] + `/sign-out"`)
				admin.post(edit[:len(edit)-len("/edit")] + "/sign-out").redirectsTo("/admin/users")
				me.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
				admin.get("/admin").status(200)
			})
		})
	}
}

// TestPasswordChangeEndsSessionsOnEveryProcess: two web processes sharing
// the database (and its sessions): a password changed on one ends the
// user's other sessions on the other at their next request.
func TestPasswordChangeEndsSessionsOnEveryProcess(t *testing.T) {
	t.Parallel()
	shared := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "shared.db")}
	one, two := newSite(t, shared), newSite(t, shared)
	me := one.signedIn("ada@example.com")
	elsewhere := two.visitorAs("ada@example.com", "password for ada@example.com")
	me.post("/user/change-password", "old_password", "password for ada@example.com", "password", "a brand new password", "retype_password", "a brand new password").
		redirectsTo("/user/profile")
	elsewhere.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	onTwo := two.visitor()
	onTwo.cookies = me.cookies
	onTwo.get("/user/profile").status(200).contains("ada@example.com")
}

// TestSecretKeyRotationKeepsVisitorsSignedIn: with cookie sessions, a new
// SECRET_KEY with the old one in SECRET_KEY_FALLBACKS keeps everyone
// signed in; dropping the old key signs out whoever has not been back.
func TestSecretKeyRotationKeepsVisitorsSignedIn(t *testing.T) {
	t.Parallel()
	const k1, k2 = "the-first-secret-key-of-32-bytes-or-more", "the-second-secret-key-of-32-bytes-or-more"
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
	site := func(key, fallbacks string) *site {
		return newSite(t, map[string]string{"DATABASE_URL": dbURL, "SESSION_STORE": "cookie", "SECRET_KEY": key, "SECRET_KEY_FALLBACKS": fallbacks})
	}
	before := site(k1, "")
	back, away := before.signedIn("back@example.com"), before.signedIn("away@example.com")
	awayCookies := maps.Clone(away.cookies)

	rotated := site(k2, k1)
	back.s, away.s = rotated, rotated
	back.get("/user/profile").status(200).contains("back@example.com")
	away.get("/user/profile").status(200).contains("away@example.com")

	done := site(k2, "")
	back.s = done
	back.get("/user/profile").status(200).contains("back@example.com") // re-made with k2 on the visit above
	stale := done.visitor()
	stale.cookies = awayCookies // a cookie still made with k1
	stale.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
}

// TestAnAccountFromBeforeSessionKeysSignsIn: an account whose row has no
// session key yet (made before they were introduced) gets one at its
// next sign-in and stays signed in; until then no session is its, not
// even one that names its ID.
func TestAnAccountFromBeforeSessionKeysSignsIn(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"database", "cookie"} {
		t.Run(store, func(t *testing.T) {
			s := newSite(t, map[string]string{"SESSION_STORE": store})
			before := s.signedIn("ada@example.com", "dev")
			if err := s.app.DB.Gorm.Exec("UPDATE users SET session_key = ''").Error; err != nil {
				t.Fatal(err)
			}
			before.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
			me := s.visitorAs("ada@example.com", "password for ada@example.com")
			me.get("/user/profile").status(200).contains("ada@example.com")
			me.get("/user/apikeys").status(200)
		})
	}
}
