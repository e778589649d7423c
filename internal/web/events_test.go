package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// The client every request of the security log's tests comes from: a
// browser behind the proxy httptest's requests come through
// (192.0.2.1, in TRUSTED_PROXIES).
const (
	clientAddress = "203.0.113.7"
	clientAgent   = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

// proxiedSite is a site behind a trusted proxy, and proxied a visitor
// coming through it from clientAddress with clientAgent.
func proxiedSite(t *testing.T, env map[string]string) *site {
	vars := map[string]string{"TRUSTED_PROXIES": "192.0.2.1/32", "TRUSTED_PROXY_HEADER": "X-Forwarded-For"}
	for k, v := range env {
		vars[k] = v
	}
	return newSite(t, vars)
}

func (s *site) proxied() *visitor {
	v := s.visitor()
	v.header = http.Header{"X-Forwarded-For": {"198.51.100.66, " + clientAddress}, "User-Agent": {clientAgent}}
	return v
}

// events returns every security event, newest first.
func (s *site) events() []seclog.Entry {
	s.t.Helper()
	p, err := s.app.Events.List(context.Background(), seclog.Filter{}, 1, seclog.MaxPerPage)
	if err != nil {
		s.t.Fatal(err)
	}
	return p.Entries
}

// eventOf returns the newest event of kind with method (and, if given,
// detail), failing when there is none.
func (s *site) eventOf(kind seclog.Kind, method string, detail ...string) seclog.Entry {
	s.t.Helper()
	for _, e := range s.events() {
		if e.Kind == kind && e.Method == method && (len(detail) == 0 || e.Detail == detail[0]) {
			return e
		}
	}
	s.t.Fatalf("no %s event with method %q in %+v", kind, method, s.events())
	return seclog.Entry{}
}

// securityLines are the "security event" lines of the site's log.
func (s *site) securityLines() []string {
	var out []string
	for line := range strings.Lines(s.logs.String()) {
		if strings.Contains(line, `msg="security event"`) {
			out = append(out, line)
		}
	}
	return out
}

func TestEveryKindOfEventIsRecordedWithTheClient(t *testing.T) {
	t.Parallel()
	s := proxiedSite(t, nil)
	const (
		first, second, third = "ocelot marmalade 4417", "quartz lantern ferry 88", "harbor ginger ozone 59"
		wrong                = "wrong guess velvet 12"
		typedInEmailField    = "hunter2 typed in the wrong box"
	)
	var secrets = []string{first, second, third, wrong, typedInEmailField}

	ada := s.proxied()
	ada.register("ada@example.com", first).redirectsTo("/")
	adaUser, err := s.app.Users.ByEmail(context.Background(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ada.get(s.lastLink("ada@example.com")).redirectsTo("/")
	ada.post("/user/sign-out").redirectsTo("/")

	stranger := s.proxied()
	stranger.post("/user/sign-in", "email", "ada@example.com", "password", wrong).status(422)
	stranger.post("/user/sign-in", "email", typedInEmailField, "password", wrong).status(422)
	ada.post("/user/sign-in", "email", "ada@example.com", "password", first).redirectsTo("/")
	ada.post("/user/change-password", "old_password", first, "password", second, "retype_password", second).redirectsTo("/user/profile")
	ada.post("/user/sign-out-others", "password", second).redirectsTo("/user/security")

	admin := s.proxied()
	if _, err := s.app.Users.CreateConfirmed(context.Background(), "admin@example.com", third, users.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	admin.post("/user/sign-in", "email", "admin@example.com", "password", third).redirectsTo("/")
	edit := fmt.Sprintf("/admin/users/%d/edit", adaUser.ID)
	admin.post(edit, "email", "ada@example.com", "active", "on", "confirmed", "on", "roles", "dev").redirectsTo("/admin/users")
	raw := ada.newKey("laptop")
	ada.post(fmt.Sprintf("/user/apikeys/%d/delete", s.keyID("ada@example.com", raw))).redirectsTo("/user/apikeys")
	secrets = append(secrets, raw)
	api := func(body string) *response {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/credentials", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Forwarded-For", clientAddress)
		r.Header.Set("User-Agent", "curl/8.5.0")
		return s.do(r)
	}
	key := rawAPIKey.FindString(api(`{"email": "ada@example.com", "password": "` + second + `"}`).status(201).body)
	secrets = append(secrets, key)
	api(`{"email": "ada@example.com", "password": "` + wrong + `"}`).status(401)
	admin.post(edit, "email", "ada@example.com", "confirmed", "on", "roles", "dev").redirectsTo("/admin/users")
	admin.post(edit, "email", "ada@example.com", "active", "on", "confirmed", "on", "roles", "dev").redirectsTo("/admin/users")
	admin.post(fmt.Sprintf("/admin/users/%d/sign-out", adaUser.ID)).redirectsTo("/admin/users")
	admin.post("/admin/users/new", "email", "bob@example.com", "password", third+"x", "retype_password", third+"x").redirectsTo("/admin/users")
	bob, _ := s.app.Users.ByEmail(context.Background(), "bob@example.com")
	admin.post(fmt.Sprintf("/admin/users/%d/edit", bob.ID), "email", "robert@example.com", "active", "on").redirectsTo("/admin/users")
	admin.post(fmt.Sprintf("/admin/users/%d/delete", bob.ID)).redirectsTo("/admin/users")

	s.proxied().post("/user/forgot-password", "email", "ada@example.com").redirectsTo("/user/forgot-password?sent=1")
	link := s.lastLink("ada@example.com")
	secrets = append(secrets, strings.TrimPrefix(link, "/user/reset-password/"), third+"y")
	s.proxied().post(link, "password", third+"y", "retype_password", third+"y").redirectsTo("/")
	// Guesses from many addresses spend the account's budget; more from
	// one address spend the address's.
	for i := range 11 {
		botnet := s.visitor()
		botnet.header = http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i+1)}, "User-Agent": {clientAgent}}
		botnet.post("/user/sign-in", "email", "ada@example.com", "password", wrong)
	}
	for range 2 {
		stranger.post("/user/sign-in", "email", "ada@example.com", "password", wrong).status(429)
	}

	adaID, adminID := adaUser.ID, uint(0)
	if a, err := s.app.Users.ByEmail(context.Background(), "admin@example.com"); err == nil {
		adminID = a.ID
	}
	for _, want := range []struct {
		kind           seclog.Kind
		method         string
		user, actor    uint // 0: none
		detail, client string
	}{
		{seclog.AccountCreated, users.MethodRegister, adaID, 0, "roles: user", clientAddress},
		{seclog.EmailConfirmed, users.MethodLink, adaID, 0, "", clientAddress},
		{seclog.SignOut, "", adaID, 0, "", clientAddress},
		{seclog.SignInFailed, users.MethodPassword, adaID, 0, "wrong password", ""}, // the newest is from 198.51.100.x
		{seclog.SignIn, users.MethodPassword, adminID, 0, "", clientAddress},
		{seclog.PasswordChanged, users.MethodPassword, adaID, 0, "every other session signed out", clientAddress},
		{seclog.SessionsEnded, "", adaID, 0, "every other session", clientAddress},
		{seclog.RolesChanged, users.MethodAdmin, adaID, adminID, "added: dev", clientAddress},
		{seclog.APIKeyCreated, "", adaID, 0, `"created with /api/v1/credentials", ` + key[:10] + "…", clientAddress},
		{seclog.APIKeyDeleted, "", adaID, 0, `"laptop", ` + raw[:10] + "…", clientAddress},
		{seclog.SignIn, users.MethodAPI, adaID, 0, "password", clientAddress},
		{seclog.SignInFailed, users.MethodAPI, adaID, 0, "password: wrong password", clientAddress},
		{seclog.AccountDeactivated, users.MethodAdmin, adaID, adminID, "every session signed out", clientAddress},
		{seclog.AccountActivated, users.MethodAdmin, adaID, adminID, "", clientAddress},
		{seclog.SessionsEnded, users.MethodAdmin, adaID, adminID, "every session", clientAddress},
		{seclog.EmailChanged, users.MethodAdmin, 0, adminID, "from bob@example.com to robert@example.com", clientAddress},
		{seclog.AccountDeleted, users.MethodAdmin, 0, adminID, "robert@example.com", clientAddress},
		{seclog.PasswordReset, users.MethodLink, adaID, 0, "every other session signed out", clientAddress},
		{seclog.LimitHit, "", adaID, 0, "budget: wrong passwords for the account", "198.51.100.11"},
		{seclog.LimitHit, "", 0, 0, "budget: password checks per address", clientAddress},
	} {
		e := s.eventOf(want.kind, want.method, want.detail)
		if (want.user == 0) != (e.UserID == nil) || (e.UserID != nil && *e.UserID != want.user) ||
			(want.actor == 0) != (e.ActorID == nil) || (e.ActorID != nil && *e.ActorID != want.actor) ||
			e.Detail != want.detail || (want.client != "" && e.Address != want.client) || e.Address == "" {
			t.Errorf("%s/%s = %+v (user %v actor %v), want %+v", want.kind, want.method, e, deref(e.UserID), deref(e.ActorID), want)
		}
		if want.kind != seclog.APIKeyCreated && want.method != users.MethodAPI && e.UserAgent != clientAgent {
			t.Errorf("%s: user agent %q", want.kind, e.UserAgent)
		}
	}
	created := s.eventOf(seclog.AccountCreated, users.MethodAdmin)
	if created.ActorID == nil || *created.ActorID != adminID || created.Detail != "roles: user" {
		t.Errorf("account created by the admin = %+v", created)
	}
	if e := s.eventOf(seclog.SignIn, users.MethodAPI); e.UserAgent != "curl/8.5.0" {
		t.Errorf("API sign-in's user agent = %q", e.UserAgent)
	}
	// A name no account has is not kept: it may be a password.
	var unknown int
	for _, e := range s.events() {
		if e.Kind == seclog.SignInFailed && e.UserID == nil {
			unknown++
			if e.Detail != "unknown account" {
				t.Errorf("failed sign-in for an unknown name: %+v", e)
			}
		}
	}
	if unknown != 1 {
		t.Errorf("%d failed sign-ins for an unknown name, want 1", unknown)
	}

	// Never a password, key or token, in a row or in a log line.
	lines := s.securityLines()
	if len(lines) != len(s.events()) {
		t.Errorf("%d security event lines for %d events", len(lines), len(s.events()))
	}
	for _, secret := range secrets {
		for _, e := range s.events() {
			if strings.Contains(fmt.Sprintf("%+v", e), secret) {
				t.Errorf("event %+v holds the secret %q", e, secret)
			}
		}
		for _, line := range lines {
			if strings.Contains(line, secret) {
				t.Errorf("log line %q holds the secret %q", line, secret)
			}
		}
	}
	if !strings.Contains(strings.Join(lines, ""), "kind=sign_in address="+clientAddress) {
		t.Errorf("no sign-in line from the client's address:\n%s", strings.Join(lines, ""))
	}

	// The metric counts them by kind.
	counted := map[seclog.Kind]int{}
	for _, e := range s.events() {
		counted[e.Kind]++
	}
	metrics := s.get("/metrics").status(200)
	for kind, n := range counted {
		metrics.contains(fmt.Sprintf("launchkit_security_events_total{kind=%q} %d", kind, n))
	}
}

func deref(p *uint) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSecurityPageShowsTheAccountsOwnRecentActivity(t *testing.T) {
	t.Parallel()
	s := proxiedSite(t, nil)
	ada := s.proxied()
	ada.get("/user/security").redirectsTo("/user/sign-in?next=%2Fuser%2Fsecurity")
	if _, err := s.app.Users.Create(context.Background(), "ada@example.com", "ocelot marmalade 4417"); err != nil {
		t.Fatal(err)
	}
	ada.post("/user/sign-in", "email", "ada@example.com", "password", "ocelot marmalade 4417").redirectsTo("/")
	bob := s.signedIn("bob@example.com")
	bob.post("/user/sign-in", "email", "ada@example.com", "password", "wrong guess velvet 12")

	ada.get("/user/security").status(200).contains(
		"Recent activity", "Signed in", "Failed sign-in", "wrong password", clientAddress, "Firefox on Linux", `title="`+clientAgent+`"`,
		"Not you?", `href="/user/change-password"`, "Account created",
	).lacks("bob@example.com")
	bobPage := bob.get("/user/security").status(200)
	bobPage.lacks(clientAddress, "Failed sign-in", "Firefox on Linux")

	// Nothing yet: the empty state (an account made with no event, as
	// before the log existed).
	if err := s.app.DB.Gorm.Exec("DELETE FROM security_events").Error; err != nil {
		t.Fatal(err)
	}
	page := ada.get("/user/security").status(200).contains("Nothing recorded yet.").body
	if strings.Contains(between(t, page, `id="security-events-title"`, "</section>"), "<table") {
		t.Error("an empty log shows a table")
	}
}

func TestAdminReadsAndFiltersTheSecurityEvents(t *testing.T) {
	t.Parallel()
	s := proxiedSite(t, nil)
	user := s.signedIn("user@example.com")
	user.get("/admin/security-events").status(403)
	s.visitor().get("/admin/security-events").redirectsTo("/user/sign-in?next=%2Fadmin%2Fsecurity-events")

	admin := s.signedIn("admin@example.com", "admin")
	s.proxied().post("/user/sign-in", "email", "user@example.com", "password", "not it at all 123")
	s.proxied().post("/user/sign-in", "email", "nobody@example.com", "password", "not it at all 123")

	admin.get("/admin").status(200).contains(`href="/admin/security-events"`)
	admin.get("/admin/security-events").status(200).contains(
		"<h1>Security events</h1>", `<option value="sign_in_failed">Failed sign-in</option>`,
		`<a href="/admin/users/1/edit">user@example.com</a>`, "unknown account", "wrong password", clientAddress,
	)
	admin.get("/admin/security-events?kind=sign_in_failed").status(200).
		contains(`<option value="sign_in_failed" selected>`, "2 events match", "unknown account", "wrong password").
		lacks("<td>Signed in</td>", "<td>Account created")
	admin.get("/admin/security-events?kind=sign_in_failed&email=USER@example.com").status(200).
		contains("1 events match", "wrong password").lacks("unknown account")
	admin.get("/admin/security-events?email=nobody@example.com").status(200).
		contains("No account has the address nobody@example.com.")
	admin.get("/admin/security-events?kind=signed_in_maybe").status(400).contains("Choose a kind of event")
	admin.get("/admin/security-events?kind=sign_out").status(200).contains("No events match.")

	// The user's admin page shows their events.
	admin.get("/admin/users/1/edit").status(200).contains("Recent security events", "Failed sign-in", "wrong password",
		`href="/admin/security-events?email=user%40example.com"`)

	// Pages of 50.
	for range 60 {
		if err := s.app.Events.Record(context.Background(), nil, seclog.Event{Kind: seclog.LimitHit, Detail: "budget: test"}); err != nil {
			t.Fatal(err)
		}
	}
	admin.get("/admin/security-events?kind=limit_hit").status(200).contains("Page 1 of 2", `href="/admin/security-events?kind=limit_hit&amp;page=2"`)
	admin.get("/admin/security-events?kind=limit_hit&page=2").status(200).contains("Page 2 of 2")
}

// On every database, an admin's change refused at the end of its
// transaction (the last admin's role) leaves no event behind.
func TestARefusedChangeLeavesNoEvent(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			s := proxiedSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			admin := s.signedIn("admin@example.com", "admin")
			before := len(s.events())
			admin.post("/admin/users/1/edit", "email", "admin@example.com", "active", "on", "confirmed", "on").status(422)
			if _, err := s.app.Users.ChangeRoles(context.Background(), 1, users.RoleChange{Remove: []string{users.RoleAdmin}}); err == nil {
				t.Fatal("the last admin lost the role")
			}
			if after := s.events(); len(after) != before {
				t.Errorf("refused changes left events: %+v", after[:len(after)-before])
			}
			admin.post("/user/sign-out").redirectsTo("/")
			if e := s.events()[0]; e.Kind != seclog.SignOut || e.Address != clientAddress && e.Address != "192.0.2.1" {
				t.Errorf("newest event = %+v", e)
			}
		})
	}
}
