package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/users"
)

var rawAPIKey = regexp.MustCompile(`lk_[A-Za-z0-9_-]{43}`)

// newKey creates an API key on the page and returns the raw key it shows.
func (v *visitor) newKey(name string) string {
	v.s.t.Helper()
	page := v.post("/user/apikeys", "name", name).status(200).
		header("Cache-Control", "private, no-store").
		contains("Copy it now: it will not be shown again.")
	raw := rawAPIKey.FindString(page.body)
	if raw == "" {
		v.s.t.Fatalf("no API key on the page:\n%s", page.body)
	}
	return raw
}

// keyID returns the id of the API key of email whose raw form is raw.
func (s *site) keyID(email, raw string) uint {
	s.t.Helper()
	for _, k := range s.apiKeys(email) {
		if strings.HasPrefix(raw, k.Prefix) {
			return k.ID
		}
	}
	s.t.Fatalf("%s has no key %s…", email, raw[:10])
	return 0
}

// postJSON posts body to path as an API client would: no cookies.
func (s *site) postJSON(path, body string) *response {
	s.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return s.do(r)
}

// me calls GET /api/v1/me with key.
func (s *site) me(key string) *response {
	s.t.Helper()
	return s.get("/api/v1/me", "Authorization", "Bearer "+key)
}

// decode unmarshals the JSON body into a generic value, so a test sees
// exactly the fields and types a client does.
func (r *response) decode() map[string]any {
	r.t.Helper()
	r.headerPrefix("Content-Type", "application/json")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		r.t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// wantJSONError checks the SPEC's error body: {"error":{"status":…,"message":…}}.
func (r *response) wantJSONError(status int) *response {
	r.t.Helper()
	r.status(status)
	got := r.decode()
	e, ok := got["error"].(map[string]any)
	if len(got) != 1 || !ok || len(e) != 2 || e["status"] != float64(status) || e["message"] == "" {
		r.t.Errorf("error body = %s, want {\"error\":{\"status\":%d,\"message\":\"…\"}}", r.body, status)
	}
	return r
}

func TestDeveloperManagesAPIKeysOnThePage(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	dev := s.signedIn("dev@example.com", users.RoleDev)
	dev.get("/user/profile").status(200).contains(`href="/user/apikeys"`)
	dev.get("/user/apikeys").status(200).contains("You have no API keys.", `action="/user/apikeys"`, `name="name"`)

	raw := dev.newKey("  deploy script  ")
	dev.get("/user/apikeys").status(200).
		contains("deploy script", "<code>"+raw[:10]+"…</code>", "never").
		lacks(raw, "Copy it now") // shown once only

	s.me(raw).status(200)
	if page := dev.get("/user/apikeys").status(200).lacks(">never<"); strings.Count(page.body, "<time") != 2 {
		t.Errorf("the list should show when the key was created and last used:\n%s", page.body)
	}

	other := dev.newKey("")
	dev.get("/user/apikeys").contains(other[:10]+"…", "<em>unnamed</em>", raw[:10]+"…")

	id := s.keyID("dev@example.com", raw)
	dev.post(fmt.Sprintf("/user/apikeys/%d/delete", id)).redirectsTo("/user/apikeys")
	dev.get("/user/apikeys").status(200).contains("The API key is revoked", other[:10]+"…").lacks(raw[:10] + "…")
	s.me(raw).wantJSONError(401)
	s.me(other).status(200)
	dev.post(fmt.Sprintf("/user/apikeys/%d/delete", id)).status(404).contains("You have no such API key.")

	dev.post("/user/apikeys", "name", strings.Repeat("é", 101)).status(422).contains("Use at most 100 characters.").lacks("Copy it now")
}

func TestAPIKeyPagesNeedTheDevRole(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	anonymous := s.visitor()
	anonymous.get("/user/apikeys").redirectsTo("/user/sign-in?next=%2Fuser%2Fapikeys")
	anonymous.post("/user/apikeys", "name", "x").redirectsTo("/user/sign-in")
	anonymous.post("/user/apikeys/1/delete").redirectsTo("/user/sign-in")

	user := s.signedIn("user@example.com")
	user.get("/user/profile").status(200).lacks(`href="/user/apikeys"`)
	// The page says which role it needs and who grants it, so a new
	// account is not left guessing.
	user.get("/user/apikeys").status(403).contains("API keys need the dev role", "ask an admin")
	user.post("/user/apikeys", "name", "x").status(403).lacks("lk_")
	user.header = http.Header{"Accept": {"application/json"}}
	if status, msg := user.get("/user/apikeys").status(403).jsonError(); status != 403 || !strings.Contains(msg, "API keys need the dev role") {
		t.Errorf("JSON 403 = %d %q, want the role named", status, msg)
	}
	user.header = nil
	user.post("/user/apikeys/1/delete").status(403)

	admin := s.signedIn("admin@example.com", users.RoleAdmin)
	admin.get("/user/profile").status(200).contains(`href="/user/apikeys"`)
	admin.get("/user/apikeys").status(200)
	s.me(admin.newKey("admin's")).status(200)
}

func TestAnotherUsersAPIKeyCannotBeRevoked(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	ada := s.signedIn("ada@example.com", users.RoleDev)
	raw := ada.newKey("ada's")
	id := s.keyID("ada@example.com", raw)

	bob := s.signedIn("bob@example.com", users.RoleDev)
	bob.get("/user/apikeys").status(200).contains("You have no API keys.").lacks(raw[:10])
	bob.post(fmt.Sprintf("/user/apikeys/%d/delete", id)).status(404).contains("404")
	for _, bad := range []string{"abc", "0", "-1", "1.5", "99999999999999999999999"} {
		t.Run(bad, func(t *testing.T) {
			bob.in(t).post("/user/apikeys/" + bad + "/delete").status(404)
		})
	}
	s.me(raw).status(200)
}

func TestAPICredentialsAndMe(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	ada, err := s.app.Users.Create(t.Context(), "ada@example.com", "analytical engine", users.RoleDev)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.app.Users.SetName(t.Context(), ada.ID, "Ada Lovelace"); err != nil {
		t.Fatal(err)
	}

	r := s.postJSON("/api/v1/credentials", `{"email": "ADA@example.com", "password": "analytical engine"}`).
		status(201).header("Cache-Control", "private, no-store")
	created := r.decode()
	key, _ := created["key"].(string)
	if len(created) != 2 || !rawAPIKey.MatchString(key) || len(key) != 46 {
		t.Fatalf("credentials = %s, want {\"id\": …, \"key\": \"lk_…\"}", r.body)
	}
	if want := float64(s.keyID("ada@example.com", key)); created["id"] != want {
		t.Errorf("id = %v, want the key's id %v", created["id"], want)
	}
	if c := r.rec.Header().Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("the API set cookies %v", c)
	}

	r = s.me(key).status(200)
	want := map[string]any{
		"id": float64(ada.ID), "email": "ada@example.com", "name": "Ada Lovelace",
		"roles": []any{"dev", "user"}, "email_confirmed": false,
	}
	if got := r.decode(); !reflect.DeepEqual(got, want) {
		t.Errorf("me = %v, want %v", got, want)
	}
	s.get("/api/v1/me", "Authorization", "bearer "+key).status(200) // the scheme is case-insensitive

	// The key made through the API is listed on the page, labelled so.
	s.visitorAs("ada@example.com", "analytical engine").get("/user/apikeys").
		contains(key[:10]+"…", "created with /api/v1/credentials")
}

// visitorAs signs in an existing user.
func (s *site) visitorAs(email, password string) *visitor {
	s.t.Helper()
	v := s.visitor()
	v.post("/user/sign-in", "email", email, "password", password).redirectsTo("/")
	return v
}

func TestAPICredentialsErrors(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "dev@example.com", "correct password", users.RoleDev); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Users.Create(t.Context(), "user@example.com", "correct password"); err != nil {
		t.Fatal(err)
	}
	// Ten cases: just within the rate limit.
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"wrong password", `{"email":"dev@example.com","password":"wrong password"}`, 401},
		{"unknown email", `{"email":"nobody@example.com","password":"correct password"}`, 401},
		{"no dev role", `{"email":"user@example.com","password":"correct password"}`, 403},
		{"truncated JSON", `{"email":"dev@example.com",`, 400},
		{"not an object", `["dev@example.com","correct password"]`, 400},
		{"wrong types", `{"email":1,"password":2}`, 400},
		{"two values", `{"email":"dev@example.com","password":"correct password"} {}`, 400},
		{"empty body", ``, 400},
		{"missing password", `{"email":"dev@example.com"}`, 400},
		{"too large", `{"email":"` + strings.Repeat("a", 20<<10) + `"}`, 413},
	} {
		t.Log(tc.name)
		s.postJSON("/api/v1/credentials", tc.body).wantJSONError(tc.status).lacks("correct password", "lk_")
	}
}

func TestAPICredentialsNeedAConfirmedEmailWhenRequired(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	ada, err := s.app.Users.Create(t.Context(), "ada@example.com", "correct password", users.RoleDev)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"email":"ada@example.com","password":"correct password"}`
	_, msg := s.postJSON("/api/v1/credentials", body).wantJSONError(403).jsonError()
	if !strings.Contains(msg, "Confirm your email address") {
		t.Errorf("message = %q", msg)
	}
	token, err := s.app.Users.IssueToken(t.Context(), ada.ID, users.PurposeConfirmEmail, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Users.ConfirmEmail(t.Context(), token); err != nil {
		t.Fatal(err)
	}
	s.postJSON("/api/v1/credentials", body).status(201)
}

func TestAPICredentialsAreRateLimited(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for range 10 {
		s.postJSON("/api/v1/credentials", `{"email":"a@example.com","password":"guess guess"}`).status(401)
	}
	_, msg := s.postJSON("/api/v1/credentials", `{"email":"a@example.com","password":"guess guess"}`).wantJSONError(429).jsonError()
	if !strings.Contains(msg, "Too many requests") {
		t.Errorf("message = %q", msg)
	}
	// Other addresses are not held back.
	r := httptest.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(`{}`))
	r.RemoteAddr = "198.51.100.7:4321"
	s.do(r).wantJSONError(400)
}

func TestAPIMeRefusesMissingAndBadKeys(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.get("/api/v1/me").wantJSONError(401).header("WWW-Authenticate", `Bearer realm="api"`)
	for _, auth := range []string{"Bearer", "Bearer ", "Basic ZGV2OnB3", "lk_" + strings.Repeat("A", 43)} {
		s.get("/api/v1/me", "Authorization", auth).wantJSONError(401).header("WWW-Authenticate", `Bearer realm="api"`)
	}
	for _, key := range []string{"not-a-key", "lk_" + strings.Repeat("A", 43)} {
		s.me(key).wantJSONError(401).header("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
	}

	// A browser session is no credential for the API.
	dev := s.signedIn("dev@example.com", users.RoleDev)
	dev.get("/api/v1/me").wantJSONError(401)

	// Keys stop working when their user is deactivated or loses the role.
	raw := dev.newKey("")
	s.me(raw).status(200)
	u, err := s.app.Users.ByEmail(t.Context(), "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	g := s.app.DB.Gorm
	if err := g.Exec("DELETE FROM user_roles WHERE user_id = ? AND role_id = (SELECT id FROM roles WHERE name = 'dev')", u.ID).Error; err != nil {
		t.Fatal(err)
	}
	s.me(raw).wantJSONError(403)
	if err := g.Model(&users.User{}).Where("id = ?", u.ID).Update("active", false).Error; err != nil {
		t.Fatal(err)
	}
	s.me(raw).wantJSONError(401)
}

func TestAPIRoutesAnswerJSONErrors(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.get("/api/v1/credentials").wantJSONError(405).header("Allow", "POST")
	s.postJSON("/api/v1/me", `{}`).wantJSONError(405)
}

// fillAPIKeys gives the account of email n more working API keys, made
// through the users service (so no web budget is spent).
func (s *site) fillAPIKeys(email string, n int) {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(s.t.Context(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := range n {
		if _, _, err := s.app.Users.CreateAPIKey(s.t.Context(), u.ID, fmt.Sprintf("filler %d", i)); err != nil {
			s.t.Fatal(err)
		}
	}
}

// TestAPIKeysAreCappedPerAccount: an account holding users.MaxAPIKeys
// working keys gets no more, on the page (409, the reason by the form) or
// through /api/v1/credentials (409 JSON), until it revokes one.
func TestAPIKeysAreCappedPerAccount(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	dev := s.signedIn("dev@example.com", users.RoleDev)
	dev.get("/user/apikeys").contains(fmt.Sprintf("An account may hold up to %d working keys", users.MaxAPIKeys))
	s.fillAPIKeys("dev@example.com", users.MaxAPIKeys)

	full := fmt.Sprintf("You have %d working API keys, the most an account may hold: revoke one you no longer use, then create another.", users.MaxAPIKeys)
	if page := dev.post("/user/apikeys", "name", "one too many").status(409).contains(full, "filler 0").lacks("Copy it now"); rawAPIKey.MatchString(page.body) {
		t.Errorf("a refused creation shows a key:\n%s", page.body)
	}
	_, msg := s.from(1).credentials("dev@example.com", "password for dev@example.com").wantJSONError(409).lacks("lk_").jsonError()
	if want := fmt.Sprintf("This account has %d working API keys, the most it may hold: revoke one at /user/apikeys, then ask again.", users.MaxAPIKeys); msg != want {
		t.Errorf("message = %q, want %q", msg, want)
	}

	// A revoked key frees its place.
	dev.post(fmt.Sprintf("/user/apikeys/%d/delete", s.apiKeys("dev@example.com")[0].ID)).redirectsTo("/user/apikeys")
	dev.newKey("in the freed place")
	dev.post("/user/apikeys", "name", "one too many").status(409).contains(full)
}

// TestAPIKeyCreationIsBudgetedPerAccount: an account makes at most ten
// keys an hour, on the page and through the API together; then it is
// told when to try again, and other accounts are not held back.
func TestAPIKeyCreationIsBudgetedPerAccount(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	dev := s.signedIn("dev@example.com", users.RoleDev)
	// Wrong passwords spend nothing of it: only the owner can.
	for i := range 3 {
		s.from(30+i).credentials("dev@example.com", "a wrong guess").status(401)
	}
	for i := range 10 {
		if i%2 == 0 {
			dev.newKey(fmt.Sprintf("key %d", i))
		} else {
			s.from(i).credentials("dev@example.com", "password for dev@example.com").status(201)
		}
	}
	r := dev.post("/user/apikeys", "name", "eleventh").status(429).
		contains("You have created too many API keys lately. Try again in").lacks("Copy it now", "lk_")
	if r.rec.Header().Get("Retry-After") == "" {
		t.Error("a 429 without Retry-After")
	}
	_, msg := s.from(20).credentials("dev@example.com", "password for dev@example.com").wantJSONError(429).lacks("lk_").jsonError()
	if !strings.Contains(msg, "You have created too many API keys lately.") {
		t.Errorf("message = %q", msg)
	}
	if keys := len(s.apiKeys("dev@example.com")); keys != 10 {
		t.Errorf("dev holds %d keys, want 10", keys)
	}
	s.signedIn("other@example.com", users.RoleDev).newKey("not held back")
}

// apiKeys lists the working API keys of the account of email.
func (s *site) apiKeys(email string) []users.APIKey {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(s.t.Context(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	keys, err := s.app.Users.ListAPIKeys(s.t.Context(), u.ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return keys
}
