package web_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/launchkit/launchkit/internal/jobs"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

const (
	firefoxOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariOnIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	chromeOnLinux    = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// browser is a visitor whose requests carry userAgent and come from addr,
// signed in as email (its password is "password for " and the email).
func (s *site) browser(email, userAgent, addr string) *visitor {
	s.t.Helper()
	v := s.visitor()
	v.header = http.Header{"User-Agent": {userAgent}}
	v.addr = addr
	v.post("/user/sign-in", "email", email, "password", "password for "+email).redirectsTo("/")
	return v
}

// signOutActions are the per-session sign-out forms of a security page.
var signOutAction = regexp.MustCompile(`action="(/user/sessions/[0-9a-f]+/sign-out)"`)

func signOutActions(page string) []string {
	var out []string
	for _, m := range signOutAction.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// thisDevice is the row of the sessions table marked "This device".
func thisDevice(t *testing.T, page string) string {
	t.Helper()
	for row := range strings.SplitSeq(page, "<tr>") {
		if strings.Contains(row, "This device") {
			return row
		}
	}
	t.Fatalf("no session is marked as this device:\n%s", page)
	return ""
}

// sessionStores are the stores that list sessions, the database one on
// each database: each case's environment.
func sessionStores(t *testing.T) map[string]func(t *testing.T) map[string]string {
	stores := map[string]func(t *testing.T) map[string]string{
		"memory": func(*testing.T) map[string]string { return map[string]string{"SESSION_STORE": "memory"} },
		"redis": func(t *testing.T) map[string]string {
			return map[string]string{"SESSION_STORE": "redis", "REDIS_URL": testenv.RedisURL(t)}
		},
	}
	for _, d := range testenv.Dialects {
		stores["database/"+d.Name] = func(t *testing.T) map[string]string {
			return map[string]string{"SESSION_STORE": "database", "DATABASE_URL": d.URL(t)}
		}
	}
	return stores
}

// TestSecurityPageListsAndEndsSessions: two browsers signed in as one
// user are both listed, by device and address, this one marked; signing
// out the other ends it at its next request and takes it off the list;
// the session is the owner's alone to end (another user's is a 404); and
// "sign out everywhere else" leaves only this one listed. On every store
// that can list sessions: the database one (SQLite, PostgreSQL, MariaDB),
// Redis (TEST_REDIS_URL's server, a database of its own), and memory.
func TestSecurityPageListsAndEndsSessions(t *testing.T) {
	t.Parallel()
	const ada = "ada@example.com"
	for name, env := range sessionStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, env(t))
			s.createConfirmed(ada)
			s.createConfirmed("bob@example.com")
			firefox := s.browser(ada, firefoxOnWindows, "192.0.2.10:4000")
			phone := s.browser(ada, safariOnIPhone, "198.51.100.7:5000")
			bob := s.browser("bob@example.com", chromeOnLinux, "192.0.2.99:6000")

			firefox.get("/").status(200).contains("lists where else your account is signed in", `href="/user/security"`)
			page := firefox.get("/user/security").status(200).
				contains("Firefox on Windows", "Safari on iOS", "192.0.2.10", "198.51.100.7").lacks("Chrome", "192.0.2.99").body
			if row := thisDevice(t, page); !strings.Contains(row, "Firefox on Windows") || strings.Contains(row, "/sign-out") {
				t.Errorf("this device's row is not Firefox's, or offers to sign it out:\n%s", row)
			}
			actions := signOutActions(page)
			if len(actions) != 1 {
				t.Fatalf("sign-out forms %q, want one (the phone's)", actions)
			}
			phoneSignOut := actions[0]
			if row := thisDevice(t, phone.get("/user/security").status(200).body); !strings.Contains(row, "Safari on iOS") {
				t.Errorf("the phone's own row is not marked as this device:\n%s", row)
			}

			// Another user's session is not there to end; nor does their
			// attempt end it.
			bob.post(phoneSignOut).status(404)
			phone.get("/user/profile").status(200)

			firefox.post(phoneSignOut).redirectsTo("/user/security")
			page = firefox.get("/user/security").status(200).contains("Signed out of Safari on iOS at 198.51.100.7.").body
			if actions := signOutActions(page); len(actions) != 0 {
				t.Errorf("after signing the phone out, sign-out forms %q are left", actions)
			}
			if strings.Contains(sessionsCard(t, page), "Safari on iOS") {
				t.Errorf("the phone is still listed")
			}
			phone.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
			firefox.post(phoneSignOut).status(404) // once over, it is gone
			firefox.get("/user/profile").status(200)
			bob.get("/user/profile").status(200)

			var events []seclog.Event
			if err := s.app.DB.Gorm.Where("kind = ?", seclog.SessionEnded).Find(&events).Error; err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Method != "user" || !strings.Contains(events[0].Detail, "Safari on iOS") {
				t.Errorf("session_ended events %+v, want one by the user naming the phone", events)
			}

			// Sign out everywhere else: only this session is left.
			laptop := s.browser(ada, chromeOnLinux, "192.0.2.20:4000")
			firefox.get("/user/security").status(200).contains("Chrome on Linux")
			firefox.post("/user/sign-out-others", "password", "password for "+ada).redirectsTo("/user/security")
			page = firefox.get("/user/security").status(200).body
			if strings.Contains(sessionsCard(t, page), "Chrome on Linux") {
				t.Error("the laptop is still listed after signing out everywhere else")
			}
			if actions := signOutActions(page); len(actions) != 0 {
				t.Errorf("after signing out everywhere else, sign-out forms %q are left", actions)
			}
			thisDevice(t, page)
			laptop.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")

			// Signing out takes this session off the list too.
			firefox.post("/user/sign-out").redirectsTo("/")
			if n := s.sessionRows(ada); n != 0 {
				t.Errorf("%d sessions of %s listed after they all ended, want 0", n, ada)
			}
		})
	}
}

// sessionRows counts the rows of email's sessions the registry lists.
func (s *site) sessionRows(email string) int {
	s.t.Helper()
	u, err := s.app.Users.ByEmail(context.Background(), email)
	if err != nil {
		s.t.Fatal(err)
	}
	rows, err := s.app.SessionRegistry.List(context.Background(), u.ID, u.SessionKey)
	if err != nil {
		s.t.Fatal(err)
	}
	return len(rows)
}

// TestThisSessionIsEndedBySigningOut: the session of the request, asked
// to be signed out by its ID (there is no button for it), signs this
// browser out like the sign-out button.
func TestThisSessionIsEndedBySigningOut(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.createConfirmed("ada@example.com")
	v := s.browser("ada@example.com", firefoxOnWindows, "")
	var sid string
	if err := s.app.DB.Gorm.Raw("SELECT sid FROM user_sessions").Scan(&sid).Error; err != nil || sid == "" {
		t.Fatalf("no session row (%v)", err)
	}
	v.post("/user/sessions/" + sid + "/sign-out").redirectsTo("/")
	v.get("/user/security").redirectsTo("/user/sign-in?next=%2Fuser%2Fsecurity")
	if n := s.sessionRows("ada@example.com"); n != 0 {
		t.Errorf("%d sessions listed after signing out", n)
	}
	// An ID that is nobody's, or not one at all: 404, not a 500.
	w := s.browser("ada@example.com", firefoxOnWindows, "")
	w.post("/user/sessions/" + sid + "/sign-out").status(404)
	w.post("/user/sessions/not-an-id%00/sign-out").status(404)
	w.get("/user/profile").status(200)
}

// TestCookieSessionsAreNotListed: with SESSION_STORE=cookie the sessions
// live only in the browsers, so the security page says it cannot list
// them and offers "sign out everywhere else"; ending one alone is a 404.
func TestCookieSessionsAreNotListed(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"SESSION_STORE": "cookie"})
	s.createConfirmed("ada@example.com")
	v := s.browser("ada@example.com", firefoxOnWindows, "")
	other := s.browser("ada@example.com", safariOnIPhone, "")
	page := v.get("/user/security").status(200).
		contains("cannot be listed", "SESSION_STORE=cookie", `action="/user/sign-out-others"`).
		lacks("This device", "/user/sessions/").body
	if card := sessionsCard(t, page); strings.Contains(card, "Firefox on Windows") {
		t.Errorf("the cookie store's sessions are listed:\n%s", card)
	}
	v.get("/").status(200).contains("Other devices are not listed").lacks("lists where else")
	v.post("/user/sessions/0123456789abcdef0123456789abcdef/sign-out").status(404)
	var n int64
	if err := s.app.DB.Gorm.Table("user_sessions").Count(&n).Error; err != nil || n != 0 {
		t.Errorf("user_sessions has %d rows (%v), want none with the cookie store", n, err)
	}
	v.post("/user/sign-out-others", "password", "password for ada@example.com").redirectsTo("/user/security")
	other.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")
	v.get("/user/profile").status(200)
}

// TestSessionTokensAreStoredEncrypted: the registry holds each session's
// store token encrypted, so a reader of the database cannot take over a
// session kept in Redis with it.
func TestSessionTokensAreStoredEncrypted(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"SESSION_STORE": "redis"})
	s.createConfirmed("ada@example.com")
	v := s.browser("ada@example.com", firefoxOnWindows, "")
	token := v.cookies[s.app.Config.SessionCookieName].Value
	var stored []byte
	if err := s.app.DB.Gorm.Raw("SELECT token FROM user_sessions").Row().Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || bytes.Contains(stored, []byte(token)) {
		t.Fatalf("the stored token %q holds the session token in clear", stored)
	}
}

// TestEndedSessionsArePurged: the hourly sessions:purge task deletes the
// rows of sessions that are over: expired, idle past the idle timeout, or
// ended by "sign out everywhere else"; a live one stays. A row expired
// but not yet purged is not listed.
func TestEndedSessionsArePurged(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, map[string]string{"DATABASE_URL": d.URL(t)})
			const ada = "ada@example.com"
			s.createConfirmed(ada)
			s.createConfirmed("bob@example.com")
			me := s.browser(ada, firefoxOnWindows, "")
			s.browser(ada, safariOnIPhone, "") // to expire
			s.browser(ada, chromeOnLinux, "")  // to leave idle
			s.browser(ada, "curl/8.5.0", "")   // to end with the others
			s.browser("bob@example.com", chromeOnLinux, "")
			g := s.app.DB.Gorm
			long := time.Now().UTC().Add(-s.app.Config.SessionIdleTimeout - session.TouchInterval - time.Minute)
			if err := g.Exec("UPDATE user_sessions SET expires_at = ? WHERE user_agent = ?", time.Now().UTC().Add(-time.Second), safariOnIPhone).Error; err != nil {
				t.Fatal(err)
			}
			if err := g.Exec("UPDATE user_sessions SET last_seen_at = ? WHERE user_agent = ? AND user_id = (SELECT id FROM users WHERE email = ?)", long, chromeOnLinux, ada).Error; err != nil {
				t.Fatal(err)
			}
			page := me.get("/user/security").status(200).body
			if card := sessionsCard(t, page); strings.Contains(card, "Safari on iOS") || strings.Contains(card, "Chrome on Linux") {
				t.Errorf("ended sessions are listed:\n%s", card)
			}
			if n := len(signOutActions(page)); n != 1 {
				t.Errorf("%d other sessions listed, want 1 (curl's)", n)
			}
			me.post("/user/sign-out-others", "password", "password for "+ada).redirectsTo("/user/security")
			s.browser(ada, safariOnIPhone, "") // a new session, after
			if err := s.app.Handlers().Mux().ProcessTask(context.Background(), asynq.NewTask(jobs.TypeSessionsPurge, nil)); err != nil {
				t.Fatal(err)
			}
			var agents []string
			if err := g.Raw("SELECT user_agent FROM user_sessions ORDER BY id").Scan(&agents).Error; err != nil {
				t.Fatal(err)
			}
			// Left: bob's Chrome, ada's Firefox (its token renewed by
			// signing out everywhere else), ada's new Safari.
			if want := []string{chromeOnLinux, firefoxOnWindows, safariOnIPhone}; strings.Join(agents, "|") != strings.Join(want, "|") {
				t.Errorf("rows left %q, want %q", agents, want)
			}
			if !strings.Contains(s.logs.String(), "ended sessions purged from the registry") {
				t.Error("the purge logged no count")
			}
		})
	}
}

// lastSeen is when the registry last saw the session of userAgent.
func (s *site) lastSeen(userAgent string) time.Time {
	s.t.Helper()
	var row session.SignedIn
	if err := s.app.DB.Gorm.Where("user_agent = ?", userAgent).Take(&row).Error; err != nil {
		s.t.Fatal(err)
	}
	return row.LastSeenAt
}

// TestLastSeenIsKeptWithoutAWritePerRequest: browsing does not write the
// registry on each request (TestSignedInPageRunsTwoQueries counts the
// statements); once the last-seen time is older than TouchEvery, the
// next request brings it forward, and gives a session whose row has gone
// a new one.
func TestLastSeenIsKeptWithoutAWritePerRequest(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.createConfirmed("ada@example.com")
	v := s.browser("ada@example.com", firefoxOnWindows, "")
	first := s.lastSeen(firefoxOnWindows)
	for range 5 {
		v.get("/").status(200)
	}
	if got := s.lastSeen(firefoxOnWindows); !got.Equal(first) {
		t.Errorf("last seen moved from %v to %v within the touch interval", first, got)
	}

	a, logs := testenv.NewApp(t, nil)
	a.SessionRegistry.TouchEvery = 0 // every request is due
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	s = &site{t: t, app: a, handler: h, logs: logs}
	s.createConfirmed("ada@example.com")
	v = s.browser("ada@example.com", firefoxOnWindows, "")
	hourAgo := time.Now().UTC().Add(-time.Hour)
	if err := a.DB.Gorm.Exec("UPDATE user_sessions SET last_seen_at = ?", hourAgo).Error; err != nil {
		t.Fatal(err)
	}
	v.get("/").status(200)
	if got := s.lastSeen(firefoxOnWindows); time.Since(got) > time.Minute {
		t.Errorf("last seen %v after a request, want now", got)
	}
	if err := a.DB.Gorm.Exec("DELETE FROM user_sessions").Error; err != nil {
		t.Fatal(err)
	}
	v.get("/").status(200)
	thisDevice(t, v.get("/user/security").status(200).contains("Firefox on Windows").body)
}

// TestARenewedTokenCanStillBeSignedOut: a session whose token was renewed
// without a new sign-in (an admin changing their own account) is still
// the one the list names: signing it out from another browser ends it.
func TestARenewedTokenCanStillBeSignedOut(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"database", "memory"} {
		t.Run(store, func(t *testing.T) {
			s := newSite(t, map[string]string{"SESSION_STORE": store})
			root := s.createConfirmed("root@example.com", "admin")
			desk := s.browser("root@example.com", firefoxOnWindows, "")
			laptop := s.browser("root@example.com", chromeOnLinux, "")
			desk.post(fmt.Sprintf("/admin/users/%d/edit", root.ID), "email", "root@example.com", "active", "on", "roles", "admin").redirectsTo("/admin/users")
			desk.get("/admin").status(200)
			actions := signOutActions(laptop.get("/user/security").status(200).contains("Firefox on Windows").body)
			if len(actions) != 1 {
				t.Fatalf("sign-out forms %q, want the desk's", actions)
			}
			laptop.post(actions[0]).redirectsTo("/user/security")
			desk.get("/admin").redirectsTo("/user/sign-in?next=%2Fadmin")
		})
	}
}

// TestSigningOutASessionIsRefusedCrossSite: like every post, the
// sign-out of one session is refused when it comes from another site.
func TestSigningOutASessionIsRefusedCrossSite(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	s.createConfirmed("ada@example.com")
	phone := s.browser("ada@example.com", safariOnIPhone, "")
	desk := s.browser("ada@example.com", firefoxOnWindows, "")
	action := signOutActions(desk.get("/user/security").status(200).body)[0]
	r := httptest.NewRequest(http.MethodPost, action, nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	desk.send(r).status(403)
	phone.get("/user/profile").status(200)
}

// TestOddUserAgentsAndIDs: a user agent that is not valid UTF-8 or holds
// control characters, or is longer than the column, still signs in and
// is listed, on every database; a session ID that is not one is a 404.
func TestOddUserAgentsAndIDs(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			s := newSite(t, map[string]string{"DATABASE_URL": d.URL(t)})
			s.createConfirmed("ada@example.com")
			s.browser("ada@example.com", "\xff\xfeodd\x01 agent "+strings.Repeat("é", 300), "")
			v := s.browser("ada@example.com", firefoxOnWindows, "")
			if n := len(signOutActions(v.get("/user/security").status(200).body)); n != 1 {
				t.Errorf("%d other sessions listed, want 1", n)
			}
			for _, id := range []string{"x", strings.Repeat("é", 16), strings.Repeat("A", 32), strings.Repeat("0", 33), "%00"} {
				v.post("/user/sessions/" + id + "/sign-out").status(404)
			}
			v.get("/user/profile").status(200)
		})
	}
}

// sessionsCard is the Sessions card of the security page page (the
// recent activity below it names devices too).
func sessionsCard(t *testing.T, page string) string {
	t.Helper()
	return between(t, page, `id="security-sessions-title"`, "</section>")
}
