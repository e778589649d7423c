package directory_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/testenv"
)

// settings loads the configuration of dir's Settings with the keys in
// over changed.
func settings(t *testing.T, dir *testenv.Directory, over map[string]string) *config.Config {
	t.Helper()
	env := dir.Settings()
	maps.Copy(env, over)
	cfg, err := config.Load(t.Context(), config.Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// client returns a Client for dir's Settings with the keys in over
// changed.
func client(t *testing.T, dir *testenv.Directory, over map[string]string) *directory.Client {
	t.Helper()
	c, err := directory.New(settings(t, dir, over))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSignInReadsTheUserAndMapsGroupsToRoles(t *testing.T) {
	dir := testenv.Slapd(t)
	posix := map[string]string{
		"LDAP_GROUP_OBJECT_CLASS": "posixGroup", "LDAP_GROUP_ATTRIBUTE": "memberUid",
		"LDAP_GROUP_TO_ROLE_ADMIN": "posix-admins", "LDAP_GROUP_TO_ROLE_DEV": "posix-developers",
	}
	for name, over := range map[string]map[string]string{"groupOfNames": nil, "posixGroup": posix} {
		t.Run(name, func(t *testing.T) {
			c := client(t, dir, over)
			prefix := map[string]string{"groupOfNames": "", "posixGroup": "posix-"}[name]
			for _, tc := range []struct {
				uid   string
				roles []string
			}{
				{"alice", []string{"admin", "user"}},
				{"bob", []string{"user"}},
				{"carol", []string{"dev", "user"}},
				{"erin", []string{"user"}},
			} {
				a, err := c.Authenticate(t.Context(), tc.uid, testenv.DirectoryUsers[tc.uid])
				if err != nil {
					t.Fatalf("%s: %v", tc.uid, err)
				}
				if a.Username != tc.uid || a.DN != dir.UserDN(tc.uid) || a.Email != tc.uid+"@example.org" || a.Name == "" {
					t.Errorf("%s: account %+v", tc.uid, a)
				}
				if !slices.Equal(a.Roles, tc.roles) {
					t.Errorf("%s: roles %v, want %v (groups %v)", tc.uid, a.Roles, tc.roles, a.Groups)
				}
				// The groups that give a role (staff gives none here).
				var want []string
				for g, members := range testenv.DirectoryGroups {
					if strings.HasPrefix(g, "posix-") == (prefix != "") && slices.Contains(members, tc.uid) && !strings.HasSuffix(g, "staff") {
						want = append(want, g)
					}
				}
				slices.Sort(want)
				if !slices.Equal(a.Groups, want) {
					t.Errorf("%s: groups %v, want %v", tc.uid, a.Groups, want)
				}
			}
		})
	}
}

func TestWrongPasswordsUnknownUsersAndInjections(t *testing.T) {
	dir := testenv.Slapd(t)
	c := client(t, dir, nil)
	for _, tc := range []struct {
		username, password string
		want               error
	}{
		{"alice", "wrong", directory.ErrWrongPassword},
		{"alice", "", directory.ErrWrongPassword}, // never an anonymous bind
		{"alice", " ", directory.ErrWrongPassword},
		{"mallory", "anything", directory.ErrNoSuchUser},
		{"", "x", directory.ErrNoSuchUser},
		// Filter syntax in a username is matched as text, never parsed.
		{"*", testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{"*)(uid=*", testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{"alice)(|(uid=*", testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{"a*", testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{"alice\x00", testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{`alice\2a`, testenv.DirectoryUsers["alice"], directory.ErrNoSuchUser},
		{strings.Repeat("a", 10_000), "x", directory.ErrNoSuchUser},
	} {
		if _, err := c.Authenticate(t.Context(), tc.username, tc.password); !errors.Is(err, tc.want) {
			t.Errorf("Authenticate(%.40q, %q) = %v, want %v", tc.username, tc.password, err, tc.want)
		}
	}
	// The username attribute matches as the directory says (uid ignores case).
	if a, err := c.Authenticate(t.Context(), "ALICE", testenv.DirectoryUsers["alice"]); err != nil || a.Username != "alice" {
		t.Errorf("ALICE: %v, %v", a, err)
	}
}

func TestAccountsTheSiteCannotUse(t *testing.T) {
	dir := testenv.Slapd(t)
	// dave has no mail: the password was right, but no account can be made.
	if _, err := client(t, dir, nil).Authenticate(t.Context(), "dave", testenv.DirectoryUsers["dave"]); !errors.Is(err, directory.ErrNoEmail) {
		t.Errorf("dave: %v, want ErrNoEmail", err)
	}
	// With LDAP_GROUP_TO_ROLE_USER only its groups' members (and admins,
	// devs) may sign in.
	c := client(t, dir, map[string]string{"LDAP_GROUP_TO_ROLE_USER": "staff"})
	if _, err := c.Authenticate(t.Context(), "erin", testenv.DirectoryUsers["erin"]); !errors.Is(err, directory.ErrNoRole) {
		t.Errorf("erin, in no group: %v, want ErrNoRole", err)
	}
	if a, err := c.Authenticate(t.Context(), "bob", testenv.DirectoryUsers["bob"]); err != nil || !slices.Equal(a.Roles, []string{"user"}) {
		t.Errorf("bob, in staff: %v, %v", a, err)
	}
}

func TestAGroupChangeShowsAtTheNextSignIn(t *testing.T) {
	dir := testenv.Slapd(t)
	c := client(t, dir, nil)
	dir.Modify(t, "dn: "+dir.GroupDN("admins")+"\nchangetype: modify\nadd: member\nmember: "+dir.UserDN("bob")+"\n")
	a, err := c.Authenticate(t.Context(), "bob", testenv.DirectoryUsers["bob"])
	if err != nil || !slices.Contains(a.Roles, "admin") {
		t.Fatalf("bob added to admins: %v, %v", a, err)
	}
	dir.Modify(t, "dn: "+dir.GroupDN("admins")+"\nchangetype: modify\ndelete: member\nmember: "+dir.UserDN("bob")+"\n")
	a, err = c.Authenticate(t.Context(), "bob", testenv.DirectoryUsers["bob"])
	if err != nil || slices.Contains(a.Roles, "admin") {
		t.Fatalf("bob taken out of admins: %v, %v", a, err)
	}
}

func TestEncryptedConnections(t *testing.T) {
	dir := testenv.Slapd(t)
	for name, over := range map[string]map[string]string{
		"ldaps":    {"LDAP_HOST": dir.LDAPSURL, "LDAP_CA_FILE": dir.CAFile},
		"StartTLS": {"LDAP_START_TLS": "true", "LDAP_CA_FILE": dir.CAFile},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := client(t, dir, over).Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"]); err != nil {
				t.Fatal(err)
			}
			// Without the CA the server's certificate is not trusted.
			delete(over, "LDAP_CA_FILE")
			_, err := client(t, dir, over).Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"])
			if !errors.Is(err, directory.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("without the CA: %v, want a certificate error", err)
			}
		})
	}
}

func TestADirectoryDownOrMisconfiguredIsUnavailable(t *testing.T) {
	dir := testenv.Slapd(t)
	if err := client(t, dir, nil).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	wrongBind := client(t, dir, map[string]string{"LDAP_BIND_PASSWORD": "not-it"})
	for name, check := range map[string]func() error{
		"Authenticate": func() error {
			_, err := wrongBind.Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"])
			return err
		},
		"Ping": func() error { return wrongBind.Ping(t.Context()) },
	} {
		if err := check(); !errors.Is(err, directory.ErrUnavailable) || strings.Contains(err.Error(), "not-it") {
			t.Errorf("%s with a wrong service password: %v, want ErrUnavailable not naming the password", name, err)
		}
	}
	anonymous := client(t, dir, map[string]string{"LDAP_BIND_DN": "", "LDAP_BIND_PASSWORD": ""})
	if _, err := anonymous.Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"]); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("anonymous search where the directory forbids it: %v, want ErrUnavailable", err)
	}

	c := client(t, dir, nil)
	dir.Stop(t)
	if _, err := c.Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"]); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("directory stopped: %v, want ErrUnavailable", err)
	}
	if err := c.Ping(t.Context()); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("Ping with the directory stopped: %v", err)
	}
	dir.Start(t)
	if _, err := c.Authenticate(t.Context(), "alice", testenv.DirectoryUsers["alice"]); err != nil {
		t.Errorf("directory back: %v", err)
	}
}

func TestASilentDirectoryTimesOut(t *testing.T) {
	// A server that accepts connections and never answers: the timeout,
	// not the caller, ends the wait — StartTLS's included.
	addr := testenv.SilentListener(t)
	for _, startTLS := range []string{"false", "true"} {
		c := client(t, testenv.DirectoryAt("ldap://"+addr),
			map[string]string{"LDAP_TIMEOUT": "300ms", "LDAP_START_TLS": startTLS})
		done := make(chan error, 1)
		go func() {
			_, err := c.Authenticate(context.Background(), "alice", "secret")
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, directory.ErrUnavailable) {
				t.Errorf("silent directory, StartTLS %s: %v, want ErrUnavailable", startTLS, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Authenticate against a silent directory (StartTLS %s) did not return", startTLS)
		}
	}
}

// TestAnEntryWithTwoUsernamesIsRefused: an entry holding a second uid
// (someone wrote alice's name into mallory's entry) signs in as nobody:
// neither name is safe to key an account or posix groups on.
func TestAnEntryWithTwoUsernamesIsRefused(t *testing.T) {
	dir := testenv.Slapd(t)
	dir.Modify(t, "dn: "+dir.UserDN("bob")+"\nchangetype: modify\nadd: uid\nuid: alice-admin\n")
	c := client(t, dir, nil)
	for _, name := range []string{"bob", "alice-admin"} {
		if a, err := c.Authenticate(t.Context(), name, testenv.DirectoryUsers["bob"]); !errors.Is(err, directory.ErrNoSuchUser) {
			t.Errorf("%s: %+v, %v; want ErrNoSuchUser", name, a, err)
		}
	}
}

// TestAUserInManyGroupsSignsIn: the group search asks only for the groups
// that give a role, so a member of more groups than the directory
// returns at once (OpenLDAP: 500) still signs in.
func TestAUserInManyGroupsSignsIn(t *testing.T) {
	dir := testenv.Slapd(t)
	var ldif strings.Builder
	for i := range 520 {
		fmt.Fprintf(&ldif, "dn: cn=team-%d,ou=groups,%s\nchangetype: add\nobjectClass: groupOfNames\ncn: team-%d\nmember: %s\n\n", i, dir.BaseDN, i, dir.UserDN("bob"))
	}
	dir.Modify(t, ldif.String())
	a, err := client(t, dir, nil).Authenticate(t.Context(), "bob", testenv.DirectoryUsers["bob"])
	if err != nil || !slices.Equal(a.Roles, []string{"user"}) {
		t.Fatalf("bob in 520 groups: %+v, %v", a, err)
	}
}

// TestAnUnusableCAFileIsRefusedAtStart: LDAP_CA_FILE that cannot be read
// or holds no certificate stops New, naming the key, instead of failing
// every sign-in later with a certificate error.
func TestAnUnusableCAFileIsRefusedAtStart(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		filepath.Join(t.TempDir(), "missing.pem"): "LDAP_CA_FILE: open ",
		notPEM: "LDAP_CA_FILE: " + notPEM + " holds no PEM certificate",
	} {
		cfg := settings(t, testenv.DirectoryAt("ldaps://127.0.0.1:1"), map[string]string{"LDAP_CA_FILE": file})
		if c, err := directory.New(cfg); c != nil || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with LDAP_CA_FILE=%s = %v, %v; want an error containing %q", file, c, err, want)
		}
	}
}

// TestACancelledRequestDoesNotDial: a sign-in whose request has already
// gone (the browser closed) stops before connecting, with the context's
// error.
func TestACancelledRequestDoesNotDial(t *testing.T) {
	c := client(t, testenv.DirectoryAt("ldap://"+testenv.SilentListener(t)), nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	if _, err := c.Authenticate(ctx, "alice", "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate with a cancelled context: %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("took %v: it waited on the directory", elapsed)
	}
}
