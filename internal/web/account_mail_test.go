package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/testenv"
)

// subjects lists the subjects of the mail sent to address.
func (s *site) subjects(address string) []string {
	s.t.Helper()
	var out []string
	for _, m := range s.mails() {
		if slices.Contains(m.To, address) {
			out = append(out, m.Subject)
		}
	}
	return out
}

// TestAccountMailOutlivesARedisOutage: with Redis down, asking for a
// reset link answers exactly as for an unknown address, and a new account
// is made and signed in; the mail waits in the outbox and goes out when
// Redis is back — for the known address only.
func TestAccountMailOutlivesARedisOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the Redis client to reconnect (about 5 s): not in -short")
	}
	redisServer := miniredis.RunT(t)
	s := newSite(t, map[string]string{"REDIS_URL": "redis://" + redisServer.Addr()})
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	redisServer.Close()

	known := s.visitor().post("/user/forgot-password", "email", "ada@example.com")
	unknown := s.visitor().post("/user/forgot-password", "email", "nobody@example.com")
	known.redirectsTo("/user/forgot-password?sent=1")
	unknown.redirectsTo("/user/forgot-password?sent=1")
	newcomer := s.visitor()
	newcomer.register("grace@example.com", "a long new password").redirectsTo("/")
	newcomer.get("/").status(200).contains("grace@example.com")
	if n, err := s.app.Outbox.Pending(t.Context()); err != nil || n != 3 {
		t.Fatalf("%d mails waiting in the outbox (%v), want 3", n, err)
	}

	if err := redisServer.Restart(); err != nil {
		t.Fatal(err)
	}
	// The client's pool, after failing to dial, tries again once a second.
	for deadline := time.Now().Add(10 * time.Second); s.app.Redis.Ping(t.Context()).Err() != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the Redis client did not reconnect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := s.app.Outbox.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := s.subjects("ada@example.com"); len(got) != 1 || !strings.Contains(got[0], "new password") {
		t.Errorf("mail to ada: %q, want the reset link", got)
	}
	if got := s.subjects("grace@example.com"); len(got) != 1 || !strings.Contains(got[0], "Confirm") {
		t.Errorf("mail to grace: %q, want the confirmation link", got)
	}
	if got := s.subjects("nobody@example.com"); len(got) != 0 {
		t.Errorf("mail to an address without an account: %q", got)
	}
}

// TestForgotPasswordDoesTheSameWorkForEveryAddress: the answer, and the
// database work behind it, is the same whether or not the address has an
// account (the lookup happens in the worker).
func TestForgotPasswordDoesTheSameWorkForEveryAddress(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	var answers, queries []string
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		r := s.visitor().post("/user/forgot-password", "email", email)
		answers = append(answers, r.rec.Header().Get("Location")+" "+r.body)
		queries = append(queries, s.queriesOf("/user/forgot-password"))
	}
	if answers[0] != answers[1] || queries[0] != queries[1] {
		t.Errorf("known address: %q after %s statements; unknown: %q after %s", answers[0], queries[0], answers[1], queries[1])
	}
}

// TestRegisteringATakenAddress: when addresses must be confirmed, signing
// up with one that has an account answers as for a new one and mails the
// owner a notice; when they need not be, the page says it is taken (it
// signs new accounts in at once, so it could not pretend).
func TestRegisteringATakenAddress(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	fresh := s.visitor().register("new@example.com", "a long new password")
	taken := s.visitor().register("ADA@example.com", "a long new password")
	fresh.redirectsTo("/user/sign-in")
	taken.redirectsTo("/user/sign-in")
	if got := s.subjects("ada@example.com"); len(got) != 1 || !strings.Contains(got[0], "Your Launchkit account") {
		t.Errorf("mail to the owner: %q, want the notice", got)
	}
	if got := s.subjects("new@example.com"); len(got) != 1 || !strings.Contains(got[0], "Confirm") {
		t.Errorf("mail to the newcomer: %q", got)
	}

	open := newSite(t, nil)
	if _, err := open.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	open.visitor().register("ada@example.com", "a long new password").status(422).contains("already registered")
}

// TestConfirmationLocksNobodyOut: with confirmed addresses required,
// accounts an admin makes are confirmed unless unticked, an unconfirmed
// user can have a new link sent (the old one may have expired), a
// completed password reset confirms the address, and the admin panel
// shows and sets confirmation.
func TestConfirmationLocksNobodyOut(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	admin := s.visitor()
	if _, err := s.app.Users.CreateConfirmed(t.Context(), "admin@example.com", "an admin password", "admin"); err != nil {
		t.Fatal(err)
	}
	admin.post("/user/sign-in", "email", "admin@example.com", "password", "an admin password").redirectsTo("/")

	admin.get("/admin/users/new").status(200).contains(`name="confirmed" checked`)
	admin.post("/admin/users/new", "email", "vouched@example.com", "password", "a long new password", "retype_password", "a long new password", "confirmed", "on").redirectsTo("/admin/users")
	admin.post("/admin/users/new", "email", "doubted@example.com", "password", "a long new password", "retype_password", "a long new password").redirectsTo("/admin/users")
	s.visitor().post("/user/sign-in", "email", "vouched@example.com", "password", "a long new password").redirectsTo("/")
	s.visitor().post("/user/sign-in", "email", "doubted@example.com", "password", "a long new password").
		status(422).contains("Confirm your email address first", "/user/resend-confirmation")

	// The first link expired: ask for a new one, which works.
	doubted, err := s.app.Users.ByEmail(t.Context(), "doubted@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Users.IssueToken(t.Context(), doubted.ID, "confirm-email", time.Nanosecond); err != nil {
		t.Fatal(err)
	}
	s.visitor().get("/user/resend-confirmation").status(200).contains(`action="/user/resend-confirmation"`)
	s.visitor().post("/user/resend-confirmation", "email", "doubted@example.com").redirectsTo("/user/resend-confirmation?sent=1")
	s.visitor().post("/user/resend-confirmation", "email", "nobody@example.com").redirectsTo("/user/resend-confirmation?sent=1")
	s.visitor().get(s.lastLink("doubted@example.com")).redirectsTo("/user/sign-in")
	s.visitor().post("/user/sign-in", "email", "doubted@example.com", "password", "a long new password").redirectsTo("/")
	if got := s.subjects("nobody@example.com"); len(got) != 0 {
		t.Errorf("a confirmation link went to an address without an account: %q", got)
	}

	// A reset link proves the mailbox too.
	if _, err := s.app.Users.Create(t.Context(), "forgetful@example.com", "an old password"); err != nil {
		t.Fatal(err)
	}
	s.visitor().post("/user/forgot-password", "email", "forgetful@example.com")
	v := s.visitor()
	v.post(s.lastLink("forgetful@example.com"), "password", "a fresh password", "retype_password", "a fresh password").redirectsTo("/")
	v.get("/user/profile").status(200).contains("(confirmed)")

	// The admin panel shows confirmation and sets it.
	edit := fmt.Sprintf("/admin/users/%d/edit", doubted.ID)
	admin.get(edit).status(200).contains(`name="confirmed" checked`)
	admin.post(edit, "email", "doubted@example.com", "active", "on").redirectsTo("/admin/users")
	admin.get(edit).status(200).lacks(`name="confirmed" checked`)
	s.visitor().post("/user/sign-in", "email", "doubted@example.com", "password", "a long new password").status(422)
	admin.post(edit, "email", "doubted@example.com", "active", "on", "confirmed", "on").redirectsTo("/admin/users")
	s.visitor().post("/user/sign-in", "email", "doubted@example.com", "password", "a long new password").redirectsTo("/")
}

// TestMailedLinksAreLoggedOnlyInDevelopment: with LOG_LEVEL=debug the
// development server logs the links of the mail it writes, so they can be
// taken from the terminal; production, where they are secrets, never
// logs them, though its mail goes to the outbox too.
func TestMailedLinksAreLoggedOnlyInDevelopment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		site   func(*testing.T) *site
		logged bool
	}{
		{"development", func(t *testing.T) *site { return devSite(t, nil) }, true},
		{"production", prodSite, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.site(t)
			s.visitor().register("ada@example.com", "correct horse battery").redirectsTo("/")
			link := "http://localhost:8000" + s.lastLink("ada@example.com")
			logs := s.logs.String()
			line := `level=DEBUG msg="mailed link" to=ada@example.com subject="Confirm your email address for Launchkit" link=` + link
			if tc.logged && !strings.Contains(logs, line) {
				t.Errorf("the log lacks %q:\n%s", line, logs)
			}
			token := link[strings.LastIndex(link, "/")+1:]
			if !tc.logged && (strings.Contains(logs, token) || strings.Contains(logs, "mailed link")) {
				t.Errorf("production logged the link:\n%s", logs)
			}
		})
	}
}

// TestAccountMailsAreTextAndHTML: each account mail — a confirmation
// link, a reset link, an already-registered notice — is written to the
// outbox as multipart/alternative, a text/plain and a text/html part,
// and every link of the text is a link of the HTML too.
func TestAccountMailsAreTextAndHTML(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"USER_REQUIRE_CONFIRMED_EMAIL": "true"})
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "the right password"); err != nil {
		t.Fatal(err)
	}
	s.visitor().register("new@example.com", "a long new password").redirectsTo("/user/sign-in")
	s.visitor().register("ada@example.com", "a long new password").redirectsTo("/user/sign-in")
	s.visitor().post("/user/forgot-password", "email", "ada@example.com").redirectsTo("/user/forgot-password?sent=1")
	s.mails() // runs the mail tasks

	files, _ := filepath.Glob(filepath.Join(s.app.Config.MailOutboxDir, "*.eml"))
	var subjects []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := testenv.ReadEML(t, f)
		subjects = append(subjects, m.Subject)
		if got := testenv.MIMEParts(t, src); !slices.Equal(got, []string{"multipart/alternative", "text/plain", "text/html"}) {
			t.Errorf("%q is %q, want multipart/alternative of text/plain and text/html", m.Subject, got)
		}
		links := mail.Message{Text: m.Text}.Links()
		if len(links) == 0 {
			t.Errorf("%q: no link in the text:\n%s", m.Subject, m.Text)
		}
		for _, l := range links {
			if !strings.Contains(m.HTML, `href="`+l+`"`) {
				t.Errorf("%q: the HTML part does not link to %s:\n%s", m.Subject, l, m.HTML)
			}
		}
	}
	slices.Sort(subjects)
	if want := []string{"Choose a new password for Launchkit", "Confirm your email address for Launchkit", "Your Launchkit account"}; !slices.Equal(subjects, want) {
		t.Errorf("mails %q, want %q", subjects, want)
	}
}
