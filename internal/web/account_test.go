package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// visitor is a browser on the site: it keeps its cookies between requests
// and posts forms as a same-origin page would.
type visitor struct {
	s       *site
	cookies map[string]*http.Cookie
	// addr, when set, is the address the requests come from (host:port).
	addr string
	// header is added to every request.
	header http.Header
}

func (s *site) visitor() *visitor { return &visitor{s: s, cookies: map[string]*http.Cookie{}} }

func (v *visitor) send(r *http.Request) *response {
	v.s.t.Helper()
	for _, c := range v.cookies {
		if pathMatches(r.URL.Path, c.Path) {
			r.AddCookie(c)
		}
	}
	if v.addr != "" {
		r.RemoteAddr = v.addr
	}
	for k, vs := range v.header {
		r.Header[k] = vs
	}
	resp := v.s.do(r)
	for _, c := range resp.rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(v.cookies, c.Name)
		} else {
			v.cookies[c.Name] = c
		}
	}
	return resp
}

// pathMatches reports whether a browser sends a cookie with path
// cookiePath to path (RFC 6265, 5.1.4).
func pathMatches(path, cookiePath string) bool {
	switch {
	case cookiePath == "" || cookiePath == path:
		return true
	case strings.HasPrefix(path, cookiePath):
		return strings.HasSuffix(cookiePath, "/") || path[len(cookiePath)] == '/'
	}
	return false
}

func (v *visitor) get(path string) *response {
	v.s.t.Helper()
	return v.send(httptest.NewRequest(http.MethodGet, path, nil))
}

// post submits fields as pairs: name, value, name, value…
func (v *visitor) post(path string, fields ...string) *response {
	v.s.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Add(fields[i], fields[i+1])
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return v.send(r)
}

func (r *response) redirectsTo(want string) *response {
	r.t.Helper()
	if r.rec.Code != http.StatusSeeOther {
		r.t.Fatalf("status = %d, want 303 to %s; body:\n%s", r.rec.Code, want, r.body)
	}
	if got := r.rec.Header().Get("Location"); got != want {
		r.t.Fatalf("Location = %q, want %q", got, want)
	}
	return r
}

// mails delivers the tasks waiting in the queue as a worker would (the
// tests run none), then returns every message sent so far, oldest first,
// read back from the outbox directory.
func (s *site) mails() []mail.Message {
	s.t.Helper()
	inspector := asynq.NewInspectorFromRedisClient(s.app.Redis)
	tasks, err := inspector.ListPendingTasks(jobs.QueueCritical)
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		s.t.Fatal(err)
	}
	handlers := s.app.Handlers().Mux()
	for _, task := range tasks {
		if err := handlers.ProcessTask(context.Background(), asynq.NewTask(task.Type, task.Payload)); err != nil {
			s.t.Fatalf("task %s: %v", task.Type, err)
		}
		if err := inspector.DeleteTask(jobs.QueueCritical, task.ID); err != nil {
			s.t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(s.app.Config.MailOutboxDir, "*.eml"))
	slices.Sort(files) // named by the time they were written
	var out []mail.Message
	for _, f := range files {
		out = append(out, testenv.ReadEML(s.t, f))
	}
	return out
}

var linkPath = regexp.MustCompile(`http://localhost:8000(/user/[a-z-]+/[A-Za-z0-9_-]+)`)

// lastLink returns the path of the link in the newest mail to address.
func (s *site) lastLink(address string) string {
	s.t.Helper()
	var link string
	for _, m := range s.mails() {
		if len(m.To) == 1 && m.To[0] == address {
			if match := linkPath.FindStringSubmatch(m.Text); match != nil {
				link = match[1]
			}
		}
	}
	if link == "" {
		s.t.Fatalf("no mail with a link to %s in %+v", address, s.mails())
	}
	return link
}

// signedIn creates a user with roles and returns a visitor signed in as them.
func (s *site) signedIn(email string, roles ...string) *visitor {
	s.t.Helper()
	if _, err := s.app.Users.Create(context.Background(), email, "password for "+email, roles...); err != nil {
		s.t.Fatal(err)
	}
	v := s.visitor()
	v.post("/user/sign-in", "email", email, "password", "password for "+email).redirectsTo("/")
	return v
}

func (v *visitor) register(email, password string) *response {
	return v.post("/user/register", "email", email, "password", password, "retype_password", password)
}

func TestRegisterSignsInAndMailsAConfirmationLink(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	v.get("/user/register").status(200).contains(`name="email"`, `name="password"`, `name="retype_password"`)
	v.register("Ada@Example.com", "correct horse battery").redirectsTo("/")
	v.get("/").status(200).contains("ada@example.com", "Sign out", "Welcome! Your account is ready.")
	v.get("/").lacks("Welcome!") // a flash shows once

	link := s.lastLink("ada@example.com")
	if !strings.HasPrefix(link, "/user/confirm-email/") {
		t.Fatalf("confirmation link = %q", link)
	}
	v.get(link).redirectsTo("/")
	v.get("/user/profile").status(200).contains("ada@example.com", "(confirmed)")
	v.get(link).status(400).contains("used already")
}

func TestRegisterRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().register("taken@example.com", "long enough pw").redirectsTo("/")
	v := s.visitor()
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{[]string{"email", "not-an-email", "password", "long enough pw", "retype_password", "long enough pw"}, "Enter an email address"},
		{[]string{"email", "TAKEN@example.com", "password", "long enough pw", "retype_password", "long enough pw"}, "already registered"},
		{[]string{"email", "new@example.com", "password", "short", "retype_password", "short"}, "Use at least 8 characters."},
		{[]string{"email", "new@example.com", "password", "password", "retype_password", "password"}, "one of the most common passwords"},
		{[]string{"email", "new@example.com", "password", "        ", "retype_password", "        "}, "only white space"},
		{[]string{"email", "new@example.com", "password", "new@example.com", "retype_password", "new@example.com"}, "must not be your email address"},
		{[]string{"email", "new@example.com", "password", "long enough pw", "retype_password", "different pw"}, "The two passwords differ."},
	} {
		v.post("/user/register", tc.fields...).status(422).contains(tc.want, `value="`+tc.fields[1]+`"`).lacks("long enough pw")
	}
	if len(v.cookies) != 0 {
		t.Errorf("failed registrations set cookies: %v", v.cookies)
	}
}

// TestRegisterRefusesEasyPasswords: the four examples, and the
// site's name, are refused with a reason that helps choose better.
func TestRegisterRefusesEasyPasswords(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	for i, tc := range []struct{ password, want string }{
		{"aaaaaaaa", "Too easy to guess: repeated characters or words, like aaaa or 1212, are among the first things tried. Add a few more words, ones not often seen together."},
		{"abcdefgh", "Too easy to guess: sequences like abcd or 9876 are among the first things tried."},
		{"12341234", "Too easy to guess: repeated characters or words, like aaaa or 1212"},
		{"Launchkit", "Your password must not be the site&#39;s name."},
		{"launchkit 2026", "Too easy to guess: it is built on the site&#39;s name."},
		{"new.user.2026", "Too easy to guess: it is built on your email address or name."},
	} {
		s.from(i).register("new.user@example.com", tc.password).status(422).contains(tc.want)
	}
	s.from(20).register("new.user@example.com", "plum river otter 42").redirectsTo("/")
}

// TestPasswordsMustNotBeTheSiteName: the policy knows APP_NAME, on every
// form that sets a password.
func TestPasswordsMustNotBeTheSiteName(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"APP_NAME": "Acme Widgets"})
	s.visitor().register("new@example.com", "acme widgets").status(422).contains("Your password must not be the site&#39;s name.")
	ada := s.signedIn("ada@example.com")
	ada.post("/user/change-password", "old_password", "password for ada@example.com", "password", "ACME WIDGETS", "retype_password", "ACME WIDGETS").
		status(422).contains("Your password must not be the site&#39;s name.")
}

func TestRegistrationCanBeClosed(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_ENABLE_REGISTER": "false"})
	v := s.visitor()
	v.get("/user/register").status(404)
	v.register("a@example.com", "long enough pw").status(404)
	v.get("/user/sign-in").status(200).lacks(`href="/user/register"`)
}

func TestSignInSignOut(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().register("grace@example.com", "hopper 1906 cobol").redirectsTo("/")

	v := s.visitor()
	v.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	v.post("/user/sign-in", "email", "grace@example.com", "password", "wrong password").status(422).contains("not right")
	v.post("/user/sign-in", "email", "nobody@example.com", "password", "wrong password").status(422).contains("not right")

	// A session from before sign-in must not become the signed-in one.
	v.post("/user/sign-in", "email", "grace@example.com", "password", "wrong password")
	before := v.cookies["session"]
	v.post("/user/sign-in", "email", "GRACE@example.com", "password", "hopper 1906 cobol", "next", "/user/profile").redirectsTo("/user/profile")
	if after := v.cookies["session"]; after == nil || (before != nil && after.Value == before.Value) {
		t.Errorf("session token not renewed at sign-in: before %v, after %v", before, after)
	}
	v.get("/user/profile").status(200).contains("grace@example.com")
	stolen := *v.cookies["session"]

	v.post("/user/sign-out").redirectsTo("/")
	v.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	thief := s.visitor()
	thief.cookies["session"] = &stolen
	thief.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
}

func TestSignInNeverRedirectsOffSite(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().register("a@example.com", "long enough pw")
	for _, next := range []string{
		"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "",
		"/./\\evil.example", "/\t/evil.example", // more in FuzzLocalPath's seeds
	} {
		s.visitor().post("/user/sign-in", "email", "a@example.com", "password", "long enough pw", "next", next).redirectsTo("/")
	}
	// A path on the site, with its query, is where the visitor goes.
	s.visitor().post("/user/sign-in", "email", "a@example.com", "password", "long enough pw", "next", "/user/profile?tab=name").
		redirectsTo("/user/profile?tab=name")
}

func TestProfileEditsOwnNameOnly(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	v.register("ada@example.com", "long enough pw")
	v.post("/user/profile", "name", "  Ada Lovelace  ", "email", "evil@example.com").redirectsTo("/user/profile")
	v.get("/user/profile").status(200).contains(`value="Ada Lovelace"`, "ada@example.com", "Your profile is saved.").lacks("evil@example.com")
	v.post("/user/profile", "name", strings.Repeat("é", 201)).status(422).contains("at most 200")
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	v.register("ada@example.com", "first password")
	v.post("/user/change-password", "old_password", "not it", "password", "second password", "retype_password", "second password").status(422).contains("not your current password")
	v.post("/user/change-password", "old_password", "first password", "password", "second password", "retype_password", "typo").status(422).contains("differ")
	v.post("/user/change-password", "old_password", "first password", "password", "second password", "retype_password", "second password").redirectsTo("/user/profile")
	s.visitor().post("/user/sign-in", "email", "ada@example.com", "password", "first password").status(422)
	s.visitor().post("/user/sign-in", "email", "ada@example.com", "password", "second password").redirectsTo("/")
}

func TestForgotAndResetPassword(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().register("ada@example.com", "forgotten password")
	before := len(s.mails())

	v := s.visitor()
	v.get("/user/forgot-password").status(200).contains(`name="email"`)
	// The answer is the same whether or not the address has an account.
	v.post("/user/forgot-password", "email", "nobody@example.com").redirectsTo("/user/forgot-password?sent=1")
	if len(s.mails()) != before {
		t.Fatal("a reset mail was sent to an address without an account")
	}
	v.post("/user/forgot-password", "email", "ADA@example.com").redirectsTo("/user/forgot-password?sent=1")
	v.get("/user/forgot-password?sent=1").contains("If an account uses that address").lacks(`name="email"`)
	if len(v.cookies) != 0 {
		t.Errorf("asking for a reset link set cookies: %v (it must create no session)", v.cookies)
	}

	link := s.lastLink("ada@example.com")
	if !strings.HasPrefix(link, "/user/reset-password/") {
		t.Fatalf("reset link = %q", link)
	}
	v.get(link).status(200).contains(`name="password"`, `name="retype_password"`)
	v.post(link, "password", "short", "retype_password", "short").status(422)
	v.post(link, "password", "brand new password", "retype_password", "brand new password").redirectsTo("/")
	v.get("/").contains("ada@example.com", "Your new password is set")
	v.get(link).status(400).contains("used already")
	v.get("/user/reset-password/not-a-real-token").status(400).contains("not valid")

	s.visitor().post("/user/sign-in", "email", "ada@example.com", "password", "forgotten password").status(422)
	s.visitor().post("/user/sign-in", "email", "ada@example.com", "password", "brand new password").redirectsTo("/")
}

func TestConfirmedEmailCanBeRequired(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	v := s.visitor()
	v.register("ada@example.com", "long enough pw").redirectsTo("/user/sign-in")
	v.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	v.post("/user/sign-in", "email", "ada@example.com", "password", "long enough pw").status(422).contains("Confirm your email address first")
	v.get(s.lastLink("ada@example.com")).redirectsTo("/user/sign-in")
	v.post("/user/sign-in", "email", "ada@example.com", "password", "long enough pw").redirectsTo("/")
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	v := s.visitor()
	for range 10 {
		v.post("/user/sign-in", "email", "a@example.com", "password", "guess guess").status(422)
	}
	v.post("/user/sign-in", "email", "a@example.com", "password", "guess guess").status(429).contains("Too many requests")
}

func TestOversizedFormIs413(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.visitor().post("/user/sign-in", "email", strings.Repeat("a", 100<<10), "password", "x").status(413)
}

// The password inputs, one partial on every page that has them, tell
// browsers and password managers what each is: a new password (with the
// policy's hint tied to it) or the account's current one.
func TestPasswordFieldsSayWhatTheyHold(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	const (
		newPassword = `<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" aria-describedby="password-hint">`
		hint        = `<p class="hint" id="password-hint">At least 8 characters`
		retype      = `<input id="retype_password" name="retype_password" type="password" autocomplete="new-password" required>`
	)
	s.visitor().get("/user/register").status(200).contains(`<label for="password">Password</label>`, newPassword, hint, `<label for="retype_password">Password again</label>`, retype)
	s.visitor().get("/user/sign-in").status(200).contains(`<input id="password" name="password" type="password" autocomplete="current-password" required>`).lacks("new-password")

	user := s.signedIn("user@example.com")
	user.get("/user/change-password").status(200).contains(
		`<label for="old_password">Current password</label>`,
		`<input id="old_password" name="old_password" type="password" autocomplete="current-password" required>`,
		`<label for="password">New password</label>`, newPassword, hint, retype)
	user.get("/user/security").status(200).contains(
		`<label for="sign-out-password">Your password</label>`,
		`<input id="sign-out-password" name="password" type="password" autocomplete="current-password" required>`)

	admin := s.signedIn("admin@example.com", "admin")
	admin.get("/admin/users/new").status(200).contains(newPassword, retype)
	admin.get("/admin/users/1/edit").status(200).lacks(`type="password"`)
}

func TestSecurityPageNeedsASignedInUser(t *testing.T) {
	site := newSite(t, nil)
	site.visitor().get("/user/security").redirectsTo("/user/sign-in?next=%2Fuser%2Fsecurity")
	ada := site.signedIn("ada@example.com")
	ada.get("/user/security").status(200).contains("<h1>Security</h1>", `href="/user/change-password"`)
}
