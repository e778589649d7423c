package web_test

import (
	"maps"
	"path/filepath"
	"testing"
)

// sharedKey is the SECRET_KEY that two deployments have in common.
const sharedKey = "one secret key that staging and production share"

// carry returns a visitor of to holding from's cookies, as an attacker
// who copies their own cookies from one deployment to the other.
func (v *visitor) carry(to *site) *visitor {
	c := to.visitor()
	c.cookies = maps.Clone(v.cookies)
	return c
}

// TestCookieSessionsDoNotCrossDeployments: two deployments with
// SESSION_STORE=cookie and the same SECRET_KEY. An admin of one (staging,
// a developer's own copy) carries their session cookie to the other.
// It must open nothing there, even though the other deployment's user of
// the same ID is an admin.
func TestCookieSessionsDoNotCrossDeployments(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SESSION_STORE": "cookie", "SECRET_KEY": sharedKey}
	withEnv := func(more map[string]string) map[string]string {
		out := maps.Clone(env)
		maps.Copy(out, more)
		return out
	}
	check := func(t *testing.T, staging, production *site) {
		t.Helper()
		if _, err := production.app.Users.Create(t.Context(), "boss@example.com", "the boss's own password", "admin"); err != nil {
			t.Fatal(err)
		}
		attacker := staging.signedIn("me@example.com", "admin")
		attacker.get("/admin").status(200)
		carried := attacker.carry(production)
		carried.get("/admin").redirectsTo("/user/sign-in?next=%2Fadmin")
		carried.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	}

	t.Run("each with its own database", func(t *testing.T) {
		// The same BASE_URL, too: only the database tells them apart.
		check(t, newSite(t, env), newSite(t, env))
	})
	t.Run("one database, two addresses", func(t *testing.T) {
		// The same account, as one database holds it: only BASE_URL tells
		// the deployments apart.
		url := "sqlite://" + filepath.Join(t.TempDir(), "shared.db")
		staging := newSite(t, withEnv(map[string]string{"DATABASE_URL": url, "BASE_URL": "https://staging.example.com"}))
		production := newSite(t, withEnv(map[string]string{"DATABASE_URL": url, "BASE_URL": "https://example.com"}))
		if _, err := production.app.Users.Create(t.Context(), "boss@example.com", "the boss's own password", "admin"); err != nil {
			t.Fatal(err)
		}
		boss := staging.visitor()
		boss.post("/user/sign-in", "email", "boss@example.com", "password", "the boss's own password").redirectsTo("/")
		boss.get("/admin").status(200)
		boss.carry(production).get("/admin").redirectsTo("/user/sign-in?next=%2Fadmin")
		// Where the deployment is the same, the cookie reads, as it
		// should (several processes of one deployment share it).
		sameDeployment := newSite(t, withEnv(map[string]string{"DATABASE_URL": url, "BASE_URL": "https://STAGING.example.com/"}))
		boss.carry(sameDeployment).get("/admin").status(200)
	})
}
