package web_test

import (
	"slices"
	"testing"

	"github.com/launchkit/launchkit/internal/users"
)

// cacheControl checks the response's Cache-Control: exactly the values
// want, one header line each (none for no want), so that no second line
// says something else.
func (r *response) cacheControl(want ...string) *response {
	r.t.Helper()
	if got := r.rec.Header().Values("Cache-Control"); !slices.Equal(got, want) {
		r.t.Errorf("Cache-Control = %q, want %q", got, want)
	}
	return r
}

// TestSignedInResponsesAreNotCached: whatever answers a signed-in user —
// a page, a redirect, an error page, the response that signs in or out,
// an API call with a key — is "Cache-Control: private, no-store", one
// header even where the session sets a cookie; anonymous pages and the
// static files keep theirs.
func TestSignedInResponsesAreNotCached(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"database", "cookie"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, map[string]string{"SESSION_STORE": store})
			if _, err := s.app.Users.Create(t.Context(), "dev@example.com", "password for dev@example.com", users.RoleDev); err != nil {
				t.Fatal(err)
			}
			anonymous := s.visitor()
			anonymous.get("/").status(200).cacheControl()
			anonymous.get("/user/sign-in").status(200).cacheControl()
			anonymous.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile").cacheControl()

			dev := s.visitor()
			dev.post("/user/sign-in", "email", "dev@example.com", "password", "password for dev@example.com").
				redirectsTo("/").cacheControl("private, no-store")
			if len(dev.cookies) == 0 {
				t.Fatal("signing in set no cookie")
			}
			dev.get("/").status(200).cacheControl("private, no-store")
			dev.get("/user/profile").status(200).cacheControl("private, no-store")
			dev.get("/user/sign-in").redirectsTo("/").cacheControl("private, no-store")
			dev.get("/admin").status(403).cacheControl("private, no-store")
			dev.get("/user/no-such-page").status(404).cacheControl("private, no-store")
			dev.post("/user/profile", "name", "Dev").redirectsTo("/user/profile").cacheControl("private, no-store")
			key := dev.newKey("cache test")

			// Static files keep their caching, signed in or not.
			dev.get("/static/css/app.css").status(200).cacheControl("public, max-age=3600")
			anonymous.get("/static/css/app.css").status(200).cacheControl("public, max-age=3600")

			s.me(key).status(200).cacheControl("private, no-store")
			s.postJSON("/api/v1/credentials", `{"email":"dev@example.com","password":"password for dev@example.com"}`).
				status(201).cacheControl("private, no-store")
			s.me("lk_" + key[3:10] + "not-a-real-key").status(401).cacheControl()

			dev.post("/user/sign-out").redirectsTo("/").cacheControl("private, no-store")
			dev.get("/").status(200).cacheControl()
		})
	}
}
