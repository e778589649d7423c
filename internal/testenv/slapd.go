package testenv

import (
	"errors"
	"testing"

	"github.com/launchkit/launchkit/internal/devdirectory"
)

// Directory is a throwaway OpenLDAP server for one test
// (devdirectory.Directory), with the test's ways to stop, start and
// change it.
type Directory struct {
	*devdirectory.Directory
}

// DirectoryUsers and DirectoryGroups are the people (uid → password) and
// groups (cn → member uids) of every Slapd directory.
var (
	DirectoryUsers  = devdirectory.Users
	DirectoryGroups = devdirectory.Groups
)

// Slapd starts an OpenLDAP server (Debian's slapd, mdb backend) on two
// free loopback ports, ldap:// and ldaps://, with a CA and certificate
// made for it and the people and groups of devdirectory loaded; it waits
// until the server answers a bind. Everything lives in the test's temp
// dir and is stopped and removed when the test ends. It skips the test
// when slapd or ldap-utils is not installed.
//
// Access: anyone may bind; a person reads only their own entry; BindDN
// reads everything but userPassword; anonymous searches find nothing;
// AdminDN (the rootdn) may write.
func Slapd(t testing.TB) *Directory {
	t.Helper()
	// The free ports are free when asked for, not promised: another test
	// may take one before slapd binds it. Then slapd exits, and another
	// pair is tried.
	for attempt := 1; ; attempt++ {
		d, err := devdirectory.NewDirectory(t.TempDir(), FreePort(t), FreePort(t))
		if errors.Is(err, devdirectory.ErrNoSlapd) {
			t.Skip(err.Error() + ": skipping the LDAP directory test")
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Error(err)
			}
			if out := d.Unshown(); t.Failed() && out != "" {
				t.Logf("output of slapd (%s):\n%s", d.URL, out)
			}
		})
		err = d.Run()
		if err == nil {
			return &Directory{d}
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
}

// DirectoryAt describes a server at url as if it were a Slapd directory
// (its base and service account), for tests against servers that are not
// one: a silent listener, a refusing one.
func DirectoryAt(url string) *Directory {
	return &Directory{&devdirectory.Directory{
		URL: url, BaseDN: "dc=example,dc=org", BindDN: "cn=reader,dc=example,dc=org", BindPassword: "reader-secret-1",
	}}
}

// Settings are the configuration keys that sign users in against d, as
// docs/directory-sign-in.md shows for OpenLDAP with groupOfNames groups:
// admins are admins, developers devs. LDAP_TIMEOUT is short, so a test
// of the directory down does not wait long.
func (d *Directory) Settings() map[string]string {
	return map[string]string{
		"USER_LDAP":                "true",
		"LDAP_HOST":                d.URL,
		"LDAP_BIND_DN":             d.BindDN,
		"LDAP_BIND_PASSWORD":       d.BindPassword,
		"LDAP_USER_BASE":           "ou=people," + d.BaseDN,
		"LDAP_GROUP_BASE":          "ou=groups," + d.BaseDN,
		"LDAP_GROUP_TO_ROLE_ADMIN": "admins",
		"LDAP_GROUP_TO_ROLE_DEV":   "developers",
		"LDAP_TIMEOUT":             "2s",
	}
}

// Start starts the server again after Stop, on the same ports, and waits
// until it answers. It does nothing when the server is running.
func (d *Directory) Start(t testing.TB) {
	t.Helper()
	if err := d.Run(); err != nil {
		t.Fatal(err)
	}
}

// Stop stops the server, so a test can see the directory down; Start
// brings it back on the same ports.
func (d *Directory) Stop(t testing.TB) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}

// Modify applies an LDIF change as the admin, or fails the test.
func (d *Directory) Modify(t testing.TB, ldif string) {
	t.Helper()
	if err := d.Directory.Modify(ldif); err != nil {
		t.Fatal(err)
	}
}
