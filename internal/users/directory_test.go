package users_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/users"
)

// fakeDirectory answers as a directory would: the accounts it knows,
// each with its password; down makes it unavailable. (The LDAP client
// itself is tested against a real slapd in internal/directory.)
type fakeDirectory struct {
	mu       sync.Mutex
	accounts map[string]directory.Account
	password map[string]string
	down     bool
	calls    int
	// refuse makes a right password answer with the account and this
	// error (directory.ErrNoRole, say).
	refuse map[string]error
}

func newFakeDirectory() *fakeDirectory {
	return &fakeDirectory{accounts: map[string]directory.Account{}, password: map[string]string{}, refuse: map[string]error{}}
}

func (f *fakeDirectory) add(username, email, password string, roles ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accounts[username] = directory.Account{Username: username, DN: "uid=" + username + ",ou=people,dc=example,dc=org", Email: email, Name: "Name of " + username, Roles: append([]string{"user"}, roles...)}
	f.password[username] = password
}

func (f *fakeDirectory) Authenticate(_ context.Context, username, password string) (*directory.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return nil, fmt.Errorf("connect: %w", directory.ErrUnavailable)
	}
	a, ok := f.accounts[username]
	if !ok {
		return nil, directory.ErrNoSuchUser
	}
	if password == "" || f.password[username] != password {
		return nil, directory.ErrWrongPassword
	}
	return &a, f.refuse[username]
}

func withDirectory(s *users.Service) *fakeDirectory {
	f := newFakeDirectory()
	s.Directory = f
	return f
}

func TestDirectorySignInCreatesTheAccountAndSyncsItsRoles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		dir.add("alice", "Alice@Example.org", "alice-pw", "admin")

		u, err := s.SignIn(ctx, "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		if !u.Directory() || *u.DirectoryName != "alice" || u.Email != "alice@example.org" || u.EmailConfirmedAt == nil || !u.Active {
			t.Fatalf("first sign-in made %+v", u)
		}
		if got := u.RoleNames(); !slices.Equal(got, []string{"admin", "user"}) {
			t.Errorf("roles = %v, want admin, user", got)
		}
		if u.Name != "Name of alice" {
			t.Errorf("name = %q", u.Name)
		}

		// A role granted here survives; the directory's roles follow the
		// groups at the next sign-in.
		if _, err := s.AddRole(ctx, "billing"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeRoles(ctx, u.ID, users.RoleChange{Add: []string{"billing"}}); err != nil {
			t.Fatal(err)
		}
		dir.add("alice", "alice@corp.example.org", "alice-pw", "dev")
		again, err := s.SignIn(ctx, "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != u.ID {
			t.Fatalf("second sign-in made another account (%d, was %d)", again.ID, u.ID)
		}
		if got := again.RoleNames(); !slices.Equal(got, []string{"billing", "dev", "user"}) {
			t.Errorf("roles after the groups changed = %v, want billing, dev, user", got)
		}
		if again.Email != "alice@corp.example.org" {
			t.Errorf("email = %q, want the directory's new one", again.Email)
		}
	})
}

func TestDirectorySignInRefusals(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		dir.add("bob", "bob@example.org", "bob-pw")

		for _, tc := range []struct{ username, password string }{
			{"bob", "wrong"}, {"nobody", "bob-pw"}, {"bob", ""},
		} {
			if _, err := s.SignIn(ctx, tc.username, tc.password); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Errorf("SignIn(%q, %q) = %v, want ErrInvalidCredentials", tc.username, tc.password, err)
			}
		}
		dir.mu.Lock()
		calls := dir.calls
		dir.mu.Unlock()
		if calls != 2 {
			t.Errorf("the directory was asked %d times, want 2: an empty password is refused before it is asked", calls)
		}

		// An account deactivated here stays out, whatever the directory says.
		u, err := s.SignIn(ctx, "bob", "bob-pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, u.ID, users.Changes{Email: u.Email, Active: false, Confirmed: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignIn(ctx, "bob", "bob-pw"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("deactivated account signed in: %v", err)
		}

		// The directory down is its own error, not a wrong password.
		dir.down = true
		if _, err := s.SignIn(ctx, "bob", "bob-pw"); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("directory down: %v, want directory.ErrUnavailable", err)
		}
	})
}

func TestALocalAccountIsNotTakenOverByTheDirectory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		local := mustCreate(t, s, "carol@example.org", "admin")
		dir.add("carol", "carol@example.org", "carol-pw")
		if _, err := s.SignIn(ctx, "carol", "carol-pw"); !errors.Is(err, users.ErrDirectoryEmailTaken) {
			t.Fatalf("sign-in with a local account's address: %v, want ErrDirectoryEmailTaken", err)
		}
		u, err := s.ByID(ctx, local.ID)
		if err != nil || u.Directory() || !u.HasRole("admin") {
			t.Errorf("the local account changed: %+v, %v", u, err)
		}
	})
}

func TestLocalAccountsBesideTheDirectory(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		mustCreate(t, s, "root@example.org", "admin")
		dir.add("dave", "dave@example.org", "dave-pw")

		// Without AllowLocalSignIn only directory users sign in.
		if _, err := s.SignIn(ctx, "root@example.org", password); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("local account signed in without AllowLocalSignIn: %v", err)
		}
		// With it, a username the directory does not know is tried locally…
		s.AllowLocalSignIn = true
		if u, err := s.SignIn(ctx, "root@example.org", password); err != nil || u.Email != "root@example.org" {
			t.Errorf("local sign-in with AllowLocalSignIn: %v", err)
		}
		// …and so is any while the directory is down: the break-glass admin.
		dir.down = true
		if u, err := s.SignIn(ctx, "root@example.org", password); err != nil || !u.HasRole("admin") {
			t.Errorf("break-glass sign-in with the directory down: %v", err)
		}
		if _, err := s.SignIn(ctx, "dave", "dave-pw"); !errors.Is(err, directory.ErrUnavailable) {
			t.Errorf("a directory user with the directory down: %v, want ErrUnavailable", err)
		}
		dir.down = false

		// A directory-managed account never signs in with a local
		// password: not beside the directory, nor once it is switched off.
		d, err := s.SignIn(ctx, "dave", "dave-pw")
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []bool{false, true} {
			if off {
				s.Directory = nil
			}
			if _, err := s.SignIn(ctx, d.Email, ""); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Errorf("local sign-in of a directory account with no password (directory off: %t): %v", off, err)
			}
			if _, err := s.SignIn(ctx, d.Email, "dave-pw"); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Errorf("local sign-in of a directory account (directory off: %t): %v", off, err)
			}
		}
	})
}

func TestADirectoryAccountsPasswordAndDirectoryRolesAreNotChangedHere(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		dir.add("erin", "erin@example.org", "erin-pw")
		u, err := s.SignIn(ctx, "erin", "erin-pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangePassword(ctx, u.ID, "erin-pw", "a new long password"); !errors.Is(err, users.ErrDirectoryManaged) {
			t.Errorf("ChangePassword: %v, want ErrDirectoryManaged", err)
		}
		if err := s.SetPassword(ctx, u.Email, "a new long password"); !errors.Is(err, users.ErrDirectoryManaged) {
			t.Errorf("SetPassword: %v, want ErrDirectoryManaged", err)
		}
		token, err := s.IssueToken(ctx, u.ID, users.PurposeResetPassword, users.ResetLinkTTL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ResetPassword(ctx, token, "a new long password"); !errors.Is(err, users.ErrDirectoryManaged) {
			t.Errorf("ResetPassword: %v, want ErrDirectoryManaged", err)
		}

		base := users.Changes{Email: u.Email, Name: "Erin", Active: true, Confirmed: true}
		for name, c := range map[string]users.Changes{
			"make admin":     withRoles(base, "admin"),
			"change address": {Email: "other@example.org", Active: true, Confirmed: true},
		} {
			if _, err := s.Update(ctx, u.ID, c); !errors.Is(err, users.ErrDirectoryManaged) {
				t.Errorf("%s: %v, want ErrDirectoryManaged", name, err)
			}
		}
		// The rest is edited as for any account.
		if _, err := s.AddRole(ctx, "support"); err != nil {
			t.Fatal(err)
		}
		got, err := s.Update(ctx, u.ID, withRoles(base, "support"))
		if err != nil || got.Name != "Erin" || !slices.Equal(got.RoleNames(), []string{"support", "user"}) {
			t.Errorf("editing name and other roles: %v, %v", got, err)
		}

		// Signing out of other sessions asks for the directory password.
		if _, err := s.EndOtherSessions(ctx, u.ID, got.SessionKey, "wrong"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("EndOtherSessions with a wrong password: %v", err)
		}
		if _, err := s.EndOtherSessions(ctx, u.ID, got.SessionKey, "erin-pw"); err != nil {
			t.Errorf("EndOtherSessions with the directory password: %v", err)
		}
	})
}

// TestUpdateKeepsTheDirectoryRoles: an edit of a directory-managed
// account that does not list the roles its groups gave it (the admin
// panel does not offer them) keeps them; its other roles change as
// listed.
func TestUpdateKeepsTheDirectoryRoles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		withDirectory(s).add("erin", "erin@example.org", "erin-pw", "admin", "dev")
		u, err := s.SignIn(ctx, "erin", "erin-pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddRole(ctx, "support"); err != nil {
			t.Fatal(err)
		}
		base := users.Changes{Email: u.Email, Name: "Erin", Active: true, Confirmed: true}
		for _, tc := range []struct {
			roles []string
			want  []string
		}{
			{[]string{"support"}, []string{"admin", "dev", "support", "user"}},
			{nil, []string{"admin", "dev", "user"}},
			{[]string{"dev", "support"}, []string{"admin", "dev", "support", "user"}},
		} {
			got, err := s.Update(ctx, u.ID, withRoles(base, tc.roles...))
			if err != nil {
				t.Errorf("Update with roles %v: %v", tc.roles, err)
			} else if !slices.Equal(got.RoleNames(), tc.want) {
				t.Errorf("Update with roles %v: roles %v, want %v", tc.roles, got.RoleNames(), tc.want)
			}
		}
	})
}

func withRoles(c users.Changes, roles ...string) users.Changes {
	c.Roles = roles
	return c
}

func TestTwoFirstSignInsAtOnceMakeOneAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		dir := withDirectory(s)
		dir.add("frank", "frank@example.org", "frank-pw", "dev")
		const n = 4
		ids := make([]uint, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				u, err := s.SignIn(t.Context(), "frank", "frank-pw")
				errs[i] = err
				if err == nil {
					ids[i] = u.ID
				}
			})
		}
		wg.Wait()
		if won := winners(t, "concurrent first sign-in", errs); won != n {
			t.Fatalf("%d of %d concurrent sign-ins succeeded", won, n)
		}
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("concurrent first sign-ins made accounts %v", ids)
			}
		}
		var count int64
		if err := d.Gorm.Table("users").Where("directory_name = ?", "frank").Count(&count).Error; err != nil || count != 1 {
			t.Errorf("%d accounts for frank (%v)", count, err)
		}
	})
}

// TestDirectoryUsersWhoseNamesDifferOnlyByAccentAreTwoAccounts: the
// directory tells josé from jose, so the accounts here must too — on
// MySQL as well, whose default collation would match them.
func TestDirectoryUsersWhoseNamesDifferOnlyByAccentAreTwoAccounts(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		dir := withDirectory(s)
		for i, pair := range [][2]string{{"jose", "josé"}, {"strasse", "straße"}, {"rene", "RENÉ"}} {
			ids := map[uint]string{}
			for j, name := range pair {
				dir.add(name, fmt.Sprintf("u%d-%d@example.org", i, j), "pw-"+name)
				u, err := s.SignIn(t.Context(), name, "pw-"+name)
				if err != nil {
					t.Fatalf("%q: %v", name, err)
				}
				if other, taken := ids[u.ID]; taken {
					t.Fatalf("directory users %q and %q got the same account %d", other, name, u.ID)
				}
				ids[u.ID] = name
			}
		}
	})
}

// TestLeavingTheDirectoryOrItsGroupsTakesTheRolesAway: a directory user
// no longer allowed to sign in (out of every allowed group), or gone from
// the directory, loses the directory's roles and every session at the
// first sign-in attempt, so neither an open session nor an API key keeps
// admin or dev; roles granted here stay.
func TestLeavingTheDirectoryOrItsGroupsTakesTheRolesAway(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		dir := withDirectory(s)
		if _, err := s.AddRole(ctx, "billing"); err != nil {
			t.Fatal(err)
		}
		for name, leave := range map[string]func(){
			"gina": func() { dir.refuse["gina"] = directory.ErrNoRole },
			"hank": func() { delete(dir.accounts, "hank") },
		} {
			dir.add(name, name+"@example.org", name+"-pw", "admin", "dev")
			before, err := s.SignIn(ctx, name, name+"-pw")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.ChangeRoles(ctx, before.ID, users.RoleChange{Add: []string{"billing"}}); err != nil {
				t.Fatal(err)
			}
			leave()
			if _, err := s.SignIn(ctx, name, name+"-pw"); err == nil {
				t.Fatalf("%s signed in after leaving", name)
			}
			after, err := s.ByID(ctx, before.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := after.RoleNames(); !slices.Equal(got, []string{"billing"}) {
				t.Errorf("%s: roles after leaving = %v, want only billing", name, got)
			}
			if after.SessionKey == before.SessionKey {
				t.Errorf("%s: sessions were not ended", name)
			}
		}
	})
}

func TestADirectoryUsernameTooLongForTheColumnIsRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		dir := withDirectory(s)
		long := strings.Repeat("a", 300)
		dir.add(long, "long@example.org", "long-pw")
		if _, err := s.SignIn(t.Context(), long, "long-pw"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("a 300-byte username: %v, want ErrInvalidCredentials", err)
		}
	})
}

// TestChangeRolesOfADirectoryAccount: the roles the directory decides are
// not changed here, by name in the refusal; other roles are granted and
// taken away as for any account.
func TestChangeRolesOfADirectoryAccount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		withDirectory(s).add("erin", "erin@example.org", "erin-pw", "dev")
		u, err := s.SignIn(ctx, "erin", "erin-pw")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddRole(ctx, "support"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			c    users.RoleChange
			want string
		}{
			{users.RoleChange{Add: []string{users.RoleAdmin}}, "its admin role follows its directory groups (LDAP_GROUP_TO_ROLE_ADMIN)"},
			{users.RoleChange{Add: []string{"support"}, Remove: []string{users.RoleDev}}, "its dev role follows its directory groups (LDAP_GROUP_TO_ROLE_DEV)"},
		} {
			if _, err := s.ChangeRoles(ctx, u.ID, tc.c); !errors.Is(err, users.ErrDirectoryManaged) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ChangeRoles(%+v) = %v, want ErrDirectoryManaged saying %q", tc.c, err, tc.want)
			}
		}
		got, err := s.ChangeRoles(ctx, u.ID, users.RoleChange{Add: []string{"support", users.RoleDev}})
		if err != nil || !slices.Equal(got.RoleNames(), []string{"dev", "support", "user"}) {
			t.Errorf("granting another role (and the directory's dev, held already): %v, %v", got.RoleNames(), err)
		}
		got, err = s.ChangeRoles(ctx, u.ID, users.RoleChange{Remove: []string{"support"}})
		if err != nil || !slices.Equal(got.RoleNames(), []string{"dev", "user"}) {
			t.Errorf("taking another role away: %v, %v", got.RoleNames(), err)
		}
	})
}
