package web_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/launchkit/launchkit/internal/testenv"
)

// directorySite is a site signing users in against dir (its Settings),
// with env on top.
func directorySite(t *testing.T, dir *testenv.Directory, env map[string]string) *site {
	t.Helper()
	settings := dir.Settings()
	maps.Copy(settings, env)
	return newSite(t, settings)
}

// directorySignIn signs uid in with their directory password.
func (v *visitor) directorySignIn(uid string) *response {
	v.s.t.Helper()
	return v.post("/user/sign-in", "username", uid, "password", testenv.DirectoryUsers[uid])
}

func TestDirectorySignIn(t *testing.T) {
	dir := testenv.Slapd(t)
	s := directorySite(t, dir, nil)

	s.visitor().get("/user/sign-in").status(200).contains(`name="username"`, "directory username").lacks(`name="email"`, "/user/register")
	// What a directory account cannot do here is said plainly, not a 404.
	s.visitor().get("/user/register").status(403).contains("come from the company directory")
	s.visitor().post("/user/register", "email", "x@example.org", "password", "a long password", "retype_password", "a long password").status(403)
	s.visitor().get("/user/forgot-password").status(403).contains("company directory")

	alice := s.visitor()
	alice.directorySignIn("alice").redirectsTo("/")
	alice.get("/admin").status(200)
	alice.get("/user/profile").status(200).contains("alice@example.org", "comes from the company directory").lacks(`href="/user/change-password"`)
	alice.get("/user/change-password").status(403).contains("company directory")
	alice.post("/user/change-password", "old_password", testenv.DirectoryUsers["alice"], "password", "a new long password", "retype_password", "a new long password").status(403)

	// The admin panel shows who is directory-managed and keeps the
	// directory's roles and address as they are.
	bob := s.visitor()
	bob.directorySignIn("bob").redirectsTo("/")
	bob.get("/admin").status(403)
	// A directory role is not an admin's to grant: the 403 says where it
	// comes from.
	bob.get("/user/apikeys").status(403).contains("API keys need the dev role", "your groups in the company directory").lacks("ask an admin")
	u, err := s.app.Users.ByEmail(t.Context(), "bob@example.org")
	if err != nil || !u.Directory() {
		t.Fatalf("bob's account: %+v, %v", u, err)
	}
	alice.get("/admin/users").status(200).contains("directory: bob")
	edit := fmt.Sprintf("/admin/users/%d/edit", u.ID)
	alice.get(edit).status(200).contains("comes from the company directory", "readonly")
	alice.post(edit, "email", "bob@example.org", "name", "Bob", "active", "on", "confirmed", "on", "roles", "admin").redirectsTo("/admin/users")
	bob.get("/admin").status(403) // the admin box was not the panel's to tick
	alice.post(edit, "email", "robert@example.org", "active", "on", "confirmed", "on").status(422).contains("comes from the company directory")

	// Wrong passwords, unknown users and filter syntax all get one answer.
	for _, tc := range [][2]string{{"alice", "wrong"}, {"mallory", "x"}, {"*)(uid=*", testenv.DirectoryUsers["alice"]}, {"a*", testenv.DirectoryUsers["alice"]}, {"alice", ""}} {
		s.visitor().post("/user/sign-in", "username", tc[0], "password", tc[1]).status(422).contains("The username or password is not right.")
	}
	// dave's entry has no address: the page says why, not a 500.
	s.visitor().directorySignIn("dave").status(403).contains("no email address")
}

// TestDirectoryGroupsDecideRolesAtEachSignIn: a user taken out of the
// admin group keeps admin in the sessions already open until they sign in
// again anywhere; from then on, every session of theirs is without it
// (roles are read at each request).
func TestDirectoryGroupsDecideRolesAtEachSignIn(t *testing.T) {
	dir := testenv.Slapd(t)
	s := directorySite(t, dir, nil)
	first := s.visitor()
	first.directorySignIn("alice").redirectsTo("/")
	first.get("/admin").status(200)

	// (A groupOfNames keeps one member at least: bob takes alice's place.)
	dir.Modify(t, "dn: "+dir.GroupDN("admins")+"\nchangetype: modify\nadd: member\nmember: "+dir.UserDN("bob")+"\n-\ndelete: member\nmember: "+dir.UserDN("alice")+"\n")
	first.get("/admin").status(200) // as of its sign-in

	second := s.visitor()
	second.directorySignIn("alice").redirectsTo("/")
	second.get("/admin").status(403)
	first.get("/admin").status(403)
	first.get("/user/profile").status(200) // still signed in, as a user

	dir.Modify(t, "dn: "+dir.GroupDN("developers")+"\nchangetype: modify\nadd: member\nmember: "+dir.UserDN("alice")+"\n")
	s.visitor().directorySignIn("alice").redirectsTo("/")
	u, err := s.app.Users.ByEmail(t.Context(), "alice@example.org")
	if err != nil || strings.Join(u.RoleNames(), ",") != "dev,user" {
		t.Errorf("roles after joining developers: %v, %v", u.RoleNames(), err)
	}
}

func TestDirectoryDown(t *testing.T) {
	dir := testenv.Slapd(t)
	s := directorySite(t, dir, map[string]string{"USER_LDAP_ALLOW_LOCAL": "true"})
	if _, err := s.app.Users.CreateConfirmed(t.Context(), "root@example.org", "break glass password", "admin"); err != nil {
		t.Fatal(err)
	}
	signedIn := s.visitor()
	signedIn.directorySignIn("bob").redirectsTo("/")
	readyz(t, s, "ok")

	dir.Stop(t)
	s.visitor().directorySignIn("carol").status(503).contains("The company directory is not answering")
	// Readiness reports it without taking the process out of rotation.
	readyz(t, s, "down")
	// Sessions already open go on; the local break-glass admin signs in.
	signedIn.get("/user/profile").status(200)
	root := s.visitor()
	root.post("/user/sign-in", "username", "root@example.org", "password", "break glass password").redirectsTo("/")
	root.get("/admin").status(200)
	// The form's field of SPEC, email, still names the account.
	s.visitor().post("/user/sign-in", "email", "root@example.org", "password", "break glass password").redirectsTo("/")
	// With local accounts allowed, the forgot-password page is for them.
	s.visitor().get("/user/forgot-password").status(200).contains("local accounts only")

	// Signing out of other sessions checks the directory password: with
	// the directory down, that is said, not a 500.
	signedIn.post("/user/sign-out-others", "password", testenv.DirectoryUsers["bob"]).status(503).contains("The company directory is not answering")

	dir.Start(t)
	s.visitor().directorySignIn("carol").redirectsTo("/")
	readyz(t, s, "ok")
	signedIn.post("/user/sign-out-others", "password", testenv.DirectoryUsers["bob"]).redirectsTo("/user/security")
}

// readyz checks that /readyz answers 200 with the directory check at
// status directory.
func readyz(t *testing.T, s *site, directory string) {
	t.Helper()
	r := s.get("/readyz").status(200)
	var body struct {
		Status string
		Checks map[string]struct{ Status string }
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Status != "ok" || body.Checks["directory"].Status != directory {
		t.Errorf("readyz = %s, want status ok and the directory %s", r.body, directory)
	}
}

func TestDirectoryGuessesAreLimitedLikePasswords(t *testing.T) {
	dir := testenv.Slapd(t)
	s := directorySite(t, dir, nil)
	// Bob's own browser, where he has signed in before.
	bobs := s.from(40)
	bobs.directorySignIn("bob").redirectsTo("/")
	bobs.post("/user/sign-out").redirectsTo("/")
	for i := range 10 {
		s.from(i).post("/user/sign-in", "username", "bob", "password", fmt.Sprint("guess ", i)).status(422)
	}
	s.from(20).directorySignIn("bob").status(429).contains("Too many wrong passwords")
	// The directory matches names as LDAP does (width, case, spaces):
	// each spelling of bob is bob's budget, not a fresh one.
	for i, spelling := range []string{"ＢＯＢ", "ⓑⓞⓑ", "bob\u00a0", " Bob"} {
		s.from(30+i).post("/user/sign-in", "username", spelling, "password", testenv.DirectoryUsers["bob"]).status(429)
	}
	// The API's credentials take the directory username too, and the same budget.
	s.from(21).credentials("bob", testenv.DirectoryUsers["bob"]).status(429).contains("reset your password with the company directory")
	s.from(22).credentials("carol", "wrong").status(401).contains("The username or password is not right.")
	s.from(23).credentials("carol", testenv.DirectoryUsers["carol"]).status(201)
	// Strangers cannot lock bob out: his own browser has a budget of its
	// own (there is no reset by mail for a directory account).
	bobs.post("/user/sign-in", "username", "Bob", "password", testenv.DirectoryUsers["bob"]).redirectsTo("/")
}

// TestReadyzAsksTheDirectoryAtMostEveryFewSeconds: /readyz is public, so
// its directory check is remembered for a while rather than costing the
// directory a connection and a bind on every probe.
func TestReadyzAsksTheDirectoryAtMostEveryFewSeconds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close() // a directory that hangs up: the check fails at once
		}
	}()
	t.Cleanup(func() { ln.Close() })
	s := directorySite(t, testenv.DirectoryAt("ldap://"+ln.Addr().String()), nil)
	// At once, and one after the other.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { s.get("/readyz") })
	}
	wg.Wait()
	for range 10 {
		readyz(t, s, "down")
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("20 probes opened %d connections to the directory, want 1", n)
	}
}
