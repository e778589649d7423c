package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// lockOut has strangers at ten addresses spend the account's shared
// budget with wrong passwords, as anyone who knows an address can.
func (s *site) lockOut(email string) {
	s.t.Helper()
	for i := range 10 {
		s.from(100+i).post("/user/sign-in", "email", email, "password", fmt.Sprint("a stranger's guess ", i)).status(422)
	}
	s.from(120).post("/user/sign-in", "email", email, "password", "another guess").status(429)
}

// TestStrangersCannotLockTheOwnerOut: strangers' wrong passwords lock the
// account against every browser it has not signed in from, the right
// password included, and keep it locked; the owner's browser, which has
// signed in before, still gets in, with a budget of its own.
func TestStrangersCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	const email, pw = "ada@example.com", "ada's own password"
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), email, pw, "admin"); err != nil {
		t.Fatal(err)
	}
	owner, other := s.from(1), s.from(2)
	for _, browser := range []*visitor{owner, other} {
		browser.post("/user/sign-in", "email", email, "password", pw).redirectsTo("/")
		browser.post("/user/sign-out").redirectsTo("/")
	}

	s.lockOut(email)
	// A new browser is a stranger, whatever it knows: the right password
	// and the API are refused too.
	s.from(121).post("/user/sign-in", "email", email, "password", pw).status(429).
		contains("Too many wrong passwords for this account", "A browser you have signed in with before is not held back")
	s.from(122).credentials(email, pw).status(429)

	// The owner's browser gets in, and again while strangers go on.
	owner.post("/user/sign-in", "email", "ADA@example.com", "password", pw).redirectsTo("/")
	owner.get("/admin").status(200)
	owner.post("/user/sign-out").redirectsTo("/")
	s.from(123).post("/user/sign-in", "email", email, "password", "yet another guess").status(429)
	owner.post("/user/sign-in", "email", email, "password", pw).redirectsTo("/")

	// Signed in, the owner's own password checks spend that browser's
	// budget too: changing the password works during the attack.
	owner.post("/user/change-password", "old_password", pw, "password", "ada's brand new password", "retype_password", "ada's brand new password").
		redirectsTo("/user/profile")

	// The change ended the account's other sessions, and forgot its
	// other browsers: a stolen device cookie dies with them.
	other.post("/user/sign-in", "email", email, "password", "ada's brand new password").status(429)

	// The owner's own wrong passwords spend only that browser's budget:
	// ten, then that browser waits, and other known browsers do not.
	owner.post("/user/sign-out").redirectsTo("/")
	for i := range 10 {
		owner.addr = fmt.Sprintf("203.0.113.%d:4000", 10+i) // not the address budget
		owner.post("/user/sign-in", "email", email, "password", fmt.Sprint("a typo ", i)).status(422)
	}
	owner.post("/user/sign-in", "email", email, "password", "ada's brand new password").status(429).
		contains("Too many wrong passwords for this account from this browser")
}

// TestADeviceCookieOpensOnlyItsOwnAccountsBudget: a browser is known only
// for the accounts that signed in there. A stranger's own account, a
// tampered cookie, or one made by another deployment with the same
// SECRET_KEY gives no budget for someone else's account.
func TestADeviceCookieOpensOnlyItsOwnAccountsBudget(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SECRET_KEY": sharedKey}
	s := newSite(t, env)
	for _, email := range []string{"ada@example.com", "mallory@example.com"} {
		if _, err := s.app.Users.Create(t.Context(), email, "password of "+email); err != nil {
			t.Fatal(err)
		}
	}
	mallory := s.from(1)
	mallory.post("/user/sign-in", "email", "mallory@example.com", "password", "password of mallory@example.com").redirectsTo("/")
	cookie := mallory.cookies["session_device"]
	if cookie == nil {
		t.Fatalf("a sign-in set no device cookie: %v", mallory.cookies)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.MaxAge <= 0 {
		t.Errorf("device cookie = %+v", cookie)
	}
	if strings.Contains(cookie.Value, "mallory") {
		t.Errorf("the device cookie shows the account: %s", cookie.Value)
	}

	s.lockOut("ada@example.com")
	mallory.post("/user/sign-in", "email", "ada@example.com", "password", "password of ada@example.com").status(429)

	tampered := s.from(2)
	tampered.cookies["session_device"] = &http.Cookie{Name: "session_device", Value: cookie.Value[:len(cookie.Value)-4] + "AAAA"}
	tampered.post("/user/sign-in", "email", "mallory@example.com", "password", "a guess").status(422)

	// Another deployment sharing SECRET_KEY and the account's address:
	// its device cookie for ada is a stranger's here.
	elsewhere := newSite(t, env)
	if _, err := elsewhere.app.Users.Create(t.Context(), "ada@example.com", "password of ada@example.com"); err != nil {
		t.Fatal(err)
	}
	other := elsewhere.from(3)
	other.post("/user/sign-in", "email", "ada@example.com", "password", "password of ada@example.com").redirectsTo("/")
	carried := other.carry(s)
	carried.post("/user/sign-in", "email", "ada@example.com", "password", "password of ada@example.com").status(429)
}

// TestABrowserIsKnownForItsLastFewAccounts: a browser shared by several
// people stays known for the accounts signed in there last.
func TestABrowserIsKnownForItsLastFewAccounts(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	shared := s.from(1)
	emails := make([]string, 6)
	for i := range emails {
		shared.addr = fmt.Sprintf("203.0.113.%d:4000", 10+i) // not the address budget
		emails[i] = fmt.Sprintf("user%d@example.com", i)
		if _, err := s.app.Users.Create(t.Context(), emails[i], "password of "+emails[i]); err != nil {
			t.Fatal(err)
		}
		shared.post("/user/sign-in", "email", emails[i], "password", "password of "+emails[i]).redirectsTo("/")
		shared.post("/user/sign-out").redirectsTo("/")
	}
	for _, email := range emails {
		s.lockOut(email)
	}
	// The first account is the one forgotten; the last five still get in.
	shared.addr = "203.0.113.30:4000"
	shared.post("/user/sign-in", "email", emails[0], "password", "password of "+emails[0]).status(429)
	for i, email := range emails[1:] {
		shared.addr = fmt.Sprintf("203.0.113.%d:4000", 31+i)
		shared.post("/user/sign-in", "email", email, "password", "password of "+email).redirectsTo("/")
		shared.post("/user/sign-out").redirectsTo("/")
	}
}

// TestAnAdminSigningThemselvesOutKeepsTheBrowsersOtherAccounts: the admin
// panel's "sign out everywhere" on one's own account starts this
// browser's session again outside /user; the browser's other accounts
// stay known (the device cookie is sent to every path).
func TestAnAdminSigningThemselvesOutKeepsTheBrowsersOtherAccounts(t *testing.T) {
	t.Parallel()
	s := newSite(t, nil)
	if _, err := s.app.Users.Create(t.Context(), "ada@example.com", "password of ada@example.com"); err != nil {
		t.Fatal(err)
	}
	boss, err := s.app.Users.Create(t.Context(), "boss@example.com", "password of boss@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	browser := s.from(1)
	browser.post("/user/sign-in", "email", "ada@example.com", "password", "password of ada@example.com").redirectsTo("/")
	browser.post("/user/sign-out").redirectsTo("/")
	browser.post("/user/sign-in", "email", "boss@example.com", "password", "password of boss@example.com").redirectsTo("/")
	browser.post(fmt.Sprintf("/admin/users/%d/sign-out", boss.ID)).redirectsTo("/admin/users")
	browser.post("/user/sign-out").redirectsTo("/")
	s.lockOut("ada@example.com")
	browser.addr = "203.0.113.2:4000"
	browser.post("/user/sign-in", "email", "ada@example.com", "password", "password of ada@example.com").redirectsTo("/")
}
