package testenv_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/launchkit/launchkit/internal/testenv"
)

func TestSlapd(t *testing.T) {
	d := testenv.Slapd(t)

	dial := func(t *testing.T, url string, opts ...ldap.DialOpt) *ldap.Conn {
		t.Helper()
		c, err := ldap.DialURL(url, opts...)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	reader := func(t *testing.T) *ldap.Conn {
		t.Helper()
		c := dial(t, d.URL)
		if err := c.Bind(d.BindDN, d.BindPassword); err != nil {
			t.Fatalf("bind as reader: %v", err)
		}
		return c
	}
	search := func(t *testing.T, c *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
		t.Helper()
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
		if err != nil {
			t.Fatalf("search %s under %s: %v", filter, base, err)
		}
		return res.Entries
	}
	groupsOf := func(t *testing.T, uid string) []string {
		t.Helper()
		filter := "(|(&(objectClass=groupOfNames)(member=" + ldap.EscapeFilter(d.UserDN(uid)) + "))" +
			"(&(objectClass=posixGroup)(memberUid=" + ldap.EscapeFilter(uid) + ")))"
		var cns []string
		for _, e := range search(t, reader(t), "ou=groups,"+d.BaseDN, filter, "cn") {
			cns = append(cns, e.GetAttributeValue("cn"))
		}
		slices.Sort(cns)
		return cns
	}
	wantGroups := func(uid string) []string {
		var cns []string
		for cn, members := range testenv.DirectoryGroups {
			if slices.Contains(members, uid) {
				cns = append(cns, cn)
			}
		}
		slices.Sort(cns)
		return cns
	}

	t.Run("ldap", func(t *testing.T) { reader(t) })

	t.Run("ldaps with the CA file", func(t *testing.T) {
		pem, err := os.ReadFile(d.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no certificate", d.CAFile)
		}
		c := dial(t, d.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool}))
		if err := c.Bind(d.BindDN, d.BindPassword); err != nil {
			t.Fatalf("bind over ldaps: %v", err)
		}
		// localhost is in the certificate too.
		c = dial(t, "ldaps://localhost"+d.LDAPSURL[len("ldaps://127.0.0.1"):], ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool}))
		if err := c.Bind(d.BindDN, d.BindPassword); err != nil {
			t.Fatalf("bind over ldaps to localhost: %v", err)
		}
	})

	t.Run("ldaps without the CA is refused", func(t *testing.T) {
		if c, err := ldap.DialURL(d.LDAPSURL); err == nil {
			_ = c.Close()
			t.Fatal("ldaps with the system roots succeeded; want an unknown-authority error")
		}
	})

	t.Run("StartTLS", func(t *testing.T) {
		c := dial(t, d.URL)
		if err := c.StartTLS(d.TLSConfig()); err != nil {
			t.Fatalf("StartTLS: %v", err)
		}
		if _, ok := c.TLSConnectionState(); !ok {
			t.Fatal("no TLS after StartTLS")
		}
		if err := c.Bind(d.BindDN, d.BindPassword); err != nil {
			t.Fatalf("bind after StartTLS: %v", err)
		}
	})

	t.Run("reader finds people but no passwords", func(t *testing.T) {
		c := reader(t)
		got := search(t, c, d.BaseDN, "(&(objectClass=inetOrgPerson)(uid=alice))", "uid", "cn", "mail", "userPassword")
		if len(got) != 1 {
			t.Fatalf("found %d entries for alice, want 1", len(got))
		}
		alice := got[0]
		if alice.DN != d.UserDN("alice") || alice.GetAttributeValue("mail") != "alice@example.org" || alice.GetAttributeValue("cn") != "Alice Adams" {
			t.Errorf("alice = %s mail=%q cn=%q", alice.DN, alice.GetAttributeValue("mail"), alice.GetAttributeValue("cn"))
		}
		if pw := alice.GetAttributeValues("userPassword"); len(pw) != 0 {
			t.Errorf("reader read alice's userPassword: %q", pw)
		}
		if dave := search(t, c, d.BaseDN, "(uid=dave)", "uid", "mail"); len(dave) != 1 || len(dave[0].GetAttributeValues("mail")) != 0 {
			t.Errorf("dave: %d entries, want 1 without mail", len(dave))
		}
		if n := len(search(t, c, "ou=people,"+d.BaseDN, "(objectClass=inetOrgPerson)", "uid")); n != len(testenv.DirectoryUsers) {
			t.Errorf("found %d people, want %d", n, len(testenv.DirectoryUsers))
		}
	})

	t.Run("groups of both kinds", func(t *testing.T) {
		for uid := range testenv.DirectoryUsers {
			if got, want := groupsOf(t, uid), wantGroups(uid); !slices.Equal(got, want) {
				t.Errorf("groups of %s = %q, want %q", uid, got, want)
			}
		}
		if got := groupsOf(t, "alice"); !slices.Equal(got, []string{"admins", "posix-admins", "posix-staff", "staff"}) {
			t.Errorf("groups of alice = %q", got)
		}
	})

	t.Run("people bind with their passwords", func(t *testing.T) {
		for uid, pw := range testenv.DirectoryUsers {
			if err := dial(t, d.URL).Bind(d.UserDN(uid), pw); err != nil {
				t.Errorf("bind as %s: %v", uid, err)
			}
		}
		// The usual sign-in: search as the reader, then bind as the person
		// on the same connection; the person then reads only their own entry.
		c := reader(t)
		err := c.Bind(d.UserDN("alice"), "wrong-password")
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("bind as alice with a wrong password: %v, want invalid credentials", err)
		}
		if err := c.Bind(d.UserDN("alice"), testenv.DirectoryUsers["alice"]); err != nil {
			t.Fatalf("bind as alice after the reader: %v", err)
		}
		own, err := c.Search(ldap.NewSearchRequest(d.UserDN("alice"), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"mail", "userPassword"}, nil))
		if err != nil || len(own.Entries) != 1 || own.Entries[0].GetAttributeValue("mail") != "alice@example.org" {
			t.Errorf("alice reading her own entry: %v", err)
		} else if pw := own.Entries[0].GetAttributeValues("userPassword"); len(pw) != 0 {
			t.Errorf("alice read her userPassword: %q", pw)
		}
		// Anything else, a search from the base included, finds nothing.
		res, err := c.Search(ldap.NewSearchRequest(d.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=*)", []string{"uid"}, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Errorf("alice's search from the base found %d entries, want none", len(res.Entries))
		}
		if err := dial(t, d.URL).Bind(d.UserDN("nobody"), "x"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("bind as an unknown DN: %v, want invalid credentials", err)
		}
	})

	t.Run("anonymous finds nothing", func(t *testing.T) {
		c := dial(t, d.URL)
		res, err := c.Search(ldap.NewSearchRequest(d.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=alice)", nil, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Fatalf("anonymous search found %d entries", len(res.Entries))
		}
		t.Logf("anonymous search: %v", err)
	})

	t.Run("Modify", func(t *testing.T) {
		d.Modify(t, "dn: "+d.GroupDN("admins")+`
changetype: modify
add: member
member: `+d.UserDN("bob")+`
-
delete: member
member: `+d.UserDN("alice")+`
`)
		if got := groupsOf(t, "alice"); !slices.Equal(got, []string{"posix-admins", "posix-staff", "staff"}) {
			t.Errorf("groups of alice after the change = %q", got)
		}
	})

	t.Run("Stop and Start", func(t *testing.T) {
		d.Stop(t)
		for _, url := range []string{d.URL, d.LDAPSURL} {
			if c, err := ldap.DialURL(url, ldap.DialWithTLSConfig(d.TLSConfig())); err == nil {
				_ = c.Close()
				t.Fatalf("dial %s succeeded with the server stopped", url)
			} else if !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
				t.Errorf("dial %s with the server stopped: %v, want a network error", url, err)
			}
		}
		d.Start(t)
		if got := groupsOf(t, "alice"); slices.Contains(got, "admins") {
			t.Errorf("the change was lost over the restart: alice is in %q", got)
		}
		if err := dial(t, d.LDAPSURL, ldap.DialWithTLSConfig(d.TLSConfig())).Bind(d.BindDN, d.BindPassword); err != nil {
			t.Errorf("bind over ldaps after Start: %v", err)
		}
	})
}
