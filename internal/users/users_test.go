package users_test

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/argon2id"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// testParams make hashing cheap; production uses argon2id.DefaultParams.
var testParams = &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

const password = "correct horse battery"

// forEachDialect runs fn, in parallel, against a freshly migrated
// database of each dialect.
func forEachDialect(t *testing.T, fn func(t *testing.T, s *users.Service, d *db.DB)) {
	t.Helper()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			t.Parallel()
			d := testenv.MigratedDB(t, dialect.URL(t))
			s := users.NewService(d)
			s.Params = testParams
			fn(t, s, d)
		})
	}
}

// mustCreate creates a user or fails the test.
func mustCreate(t *testing.T, s *users.Service, email string, roles ...string) *users.User {
	t.Helper()
	u, err := s.Create(t.Context(), email, password, roles...)
	if err != nil {
		t.Fatalf("Create(%q, %v): %v", email, roles, err)
	}
	return u
}

// winners counts the calls made at once that succeeded (nil errors),
// failing the test on an error that is none of losing, the ways a caller
// is told another one won.
func winners(t *testing.T, what string, errs []error, losing ...error) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !slices.ContainsFunc(losing, func(target error) bool { return errors.Is(err, target) }) {
			t.Errorf("%s: %v", what, err)
		}
	}
	return won
}

// wantErr fails unless err is target and its message never holds pw.
func wantErr(t *testing.T, what string, err, target error, pw string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
	}
	if err != nil && pw != "" && strings.Contains(err.Error(), pw) {
		t.Errorf("%s: error %q contains the password", what, err)
	}
}

func TestCreate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		u, err := s.Create(ctx, "  Ada@Example.COM ", password, users.RoleAdmin)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		if u.ID == 0 || u.Email != "ada@example.com" || !u.Active || u.EmailConfirmedAt != nil || u.CreatedAt.IsZero() {
			t.Errorf("created %+v, want an id, the lower-cased email, active, unconfirmed", u)
		}
		if got := u.RoleNames(); !slices.Equal(got, []string{"admin", "user"}) {
			t.Errorf("roles = %v, want [admin user]", got)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || strings.Contains(u.PasswordHash, password) {
			t.Errorf("stored hash %q is not an argon2id hash of the password", u.PasswordHash)
		}
		stored, err := s.ByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatalf("ByEmail: %v", err)
		}
		if stored.ID != u.ID || stored.PasswordHash != u.PasswordHash || !slices.Equal(stored.RoleNames(), []string{"admin", "user"}) {
			t.Errorf("stored user %+v differs from the created %+v", stored, u)
		}

		if u := mustCreate(t, s, "grace@example.com"); !slices.Equal(u.RoleNames(), []string{"user"}) {
			t.Errorf("a user created without roles has %v, want [user]", u.RoleNames())
		}
		if u := mustCreate(t, s, "linus@example.com", "dev", "dev", "user"); !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Errorf("repeated roles gave %v, want [dev user]", u.RoleNames())
		}

		for _, tc := range []struct {
			name, email, password string
			roles                 []string
			want                  error
		}{
			{"duplicate email", "ada@example.com", password, nil, users.ErrEmailTaken},
			{"duplicate email in another case", "ADA@example.com", password, nil, users.ErrEmailTaken},
			{"unknown role", "new1@example.com", password, []string{"dev", "wizard"}, users.ErrUnknownRole},
			{"empty email", "", password, nil, users.ErrInvalidEmail},
			{"no at sign", "ada.example.com", password, nil, users.ErrInvalidEmail},
			{"display name", "Ada <new2@example.com>", password, nil, users.ErrInvalidEmail},
			{"angle brackets", "<new3@example.com>", password, nil, users.ErrInvalidEmail},
			{"comment", "new4@example.com (Ada)", password, nil, users.ErrInvalidEmail},
			{"two addresses", "a@example.com, b@example.com", password, nil, users.ErrInvalidEmail},
			{"too long email", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", password, nil, users.ErrInvalidEmail},
			{"short password", "new5@example.com", "seven77", nil, users.ErrInvalidPassword},
			{"empty password", "new6@example.com", "", nil, users.ErrInvalidPassword},
			{"long password", "new7@example.com", strings.Repeat("p", 257), nil, users.ErrInvalidPassword},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, err := s.Create(ctx, tc.email, tc.password, tc.roles...)
				wantErr(t, "Create", err, tc.want, tc.password)
				if u != nil {
					t.Errorf("Create returned a user with an error: %+v", u)
				}
			})
		}
		if _, err := s.ByEmail(ctx, "new1@example.com"); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("a failed Create (unknown role) left a user behind: %v", err)
		}

		// At the length limits, a password is judged on its guessability
		// alone: 8 characters pass the length rule (though zxcvbn counts
		// any 8 as too few to guess slowly enough), and 256 bytes of
		// passphrase are welcome.
		var problem *users.PasswordProblem
		if _, err := s.Create(ctx, "edge8@example.com", "Xk9#mQ2p"); !errors.As(err, &problem) || !strings.HasPrefix(problem.Reason, "too easy to guess") {
			t.Errorf("Create with an 8-character password: %v, want refused as too easy to guess, not for its length", err)
		}
		long := strings.Repeat("quiet kettle harbour violin plum river otter ", 6)[:users.MaxPasswordLen]
		if _, err := s.Create(ctx, "edge256@example.com", long); err != nil {
			t.Errorf("Create with a %d-byte password: %v", len(long), err)
		}
	})
}

func TestConcurrentCreatesOfOneEmailMakeOneUser(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.Create(t.Context(), "race@example.com", password)
			})
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, users.ErrEmailTaken):
				t.Errorf("concurrent Create: %v, want nil or ErrEmailTaken", err)
			}
		}
		if created != 1 {
			t.Errorf("%d concurrent Creates of one email succeeded, want 1", created)
		}
	})
}

func TestByEmail(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		created := mustCreate(t, s, "ada@example.com", users.RoleDev)
		u, err := s.ByEmail(t.Context(), " ADA@Example.com")
		if err != nil {
			t.Fatalf("ByEmail in another case: %v", err)
		}
		if u.ID != created.ID || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Errorf("ByEmail = %+v, want user %d with roles [dev user]", u, created.ID)
		}
		_, err = s.ByEmail(t.Context(), "nobody@example.com")
		wantErr(t, "ByEmail of an unknown address", err, users.ErrNotFound, "")
	})
}

func TestSignIn(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com", users.RoleAdmin)
		mustCreate(t, s, "gone@example.com")
		if err := d.Gorm.Model(&users.User{}).Where("email = ?", "gone@example.com").Update("active", false).Error; err != nil {
			t.Fatal(err)
		}

		u, err := s.SignIn(ctx, "Ada@Example.com", password)
		if err != nil {
			t.Fatalf("SignIn with the right password: %v", err)
		}
		if u.ID != ada.ID || !u.HasRole(users.RoleAdmin) {
			t.Errorf("SignIn = %+v, want user %d with roles loaded", u, ada.ID)
		}

		for _, tc := range []struct{ name, email, password string }{
			{"wrong password", "ada@example.com", "not the password"},
			{"password in another case", "ada@example.com", strings.ToUpper(password)},
			{"empty password", "ada@example.com", ""},
			{"too long password", "ada@example.com", strings.Repeat("p", 10000)},
			{"unknown email", "nobody@example.com", password},
			{"inactive user", "gone@example.com", password},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, err := s.SignIn(ctx, tc.email, tc.password)
				wantErr(t, "SignIn", err, users.ErrInvalidCredentials, tc.password)
				if u != nil {
					t.Errorf("SignIn returned a user with an error: %+v", u)
				}
			})
		}
	})
}

func TestSetPassword(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		before := mustCreate(t, s, "ada@example.com")
		const newPassword = "a brand new password"
		if err := s.SetPassword(ctx, "ADA@example.com", newPassword); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if _, err := s.SignIn(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("SignIn with the new password: %v", err)
		}
		_, err := s.SignIn(ctx, "ada@example.com", password)
		wantErr(t, "SignIn with the old password", err, users.ErrInvalidCredentials, "")
		after, err := s.ByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if after.PasswordHash == before.PasswordHash || !strings.HasPrefix(after.PasswordHash, "$argon2id$") {
			t.Errorf("hash after SetPassword = %q, want a new argon2id hash", after.PasswordHash)
		}

		wantErr(t, "SetPassword of an unknown user", s.SetPassword(ctx, "nobody@example.com", newPassword), users.ErrNotFound, newPassword)
		wantErr(t, "SetPassword too short", s.SetPassword(ctx, "ada@example.com", "short"), users.ErrInvalidPassword, "short")
		if _, err := s.SignIn(ctx, "ada@example.com", newPassword); err != nil {
			t.Errorf("a rejected SetPassword changed the password: %v", err)
		}
	})
}

// TestErrorsCarryNoEmailAddress: errors end up in logs, so none names the
// address it is about, whatever the path that failed.
func TestErrorsCarryNoEmailAddress(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		mustCreate(t, s, "ada@example.com")
		s.RequireConfirmedEmail = true
		dir := withDirectory(s)
		dir.add("zed", "zed@example.com>", "zed-pw")
		// With LDAP_USERNAME_ATTRIBUTE=mail the username is an address.
		dir.add("kay@example.com", "kay@example.com>", "kay-pw")
		dir.add("ada.dir@example.com", "ada@example.com", "ada-pw")
		errorOf := func(_ any, err error) error { return err }
		for _, tc := range []struct {
			what   string
			err    error
			target error
		}{
			{"Create of a taken address", errorOf(s.Create(ctx, "Ada@Example.com", password)), users.ErrEmailTaken},
			{"Create of a malformed address", errorOf(s.Create(ctx, "ada@example.com>", password)), users.ErrInvalidEmail},
			{"Create with a weak password", errorOf(s.Create(ctx, "grace@example.com", "short")), users.ErrInvalidPassword},
			{"Register of a taken address", errorOf(s.Register(ctx, "ada@example.com", password, true)), users.ErrEmailTaken},
			{"ByEmail of an unknown address", errorOf(s.ByEmail(ctx, "nobody@example.com")), users.ErrNotFound},
			{"SetPassword of an unknown address", s.SetPassword(ctx, "nobody@example.com", "a brand new password"), users.ErrNotFound},
			{"SetPassword too short", s.SetPassword(ctx, "ada@example.com", "short"), users.ErrInvalidPassword},
			{"directory sign-in with a malformed address", errorOf(s.SignIn(ctx, "zed", "zed-pw")), directory.ErrNoEmail},
			{"directory sign-in of an address-like username with a malformed address", errorOf(s.SignIn(ctx, "kay@example.com", "kay-pw")), directory.ErrNoEmail},
			{"directory sign-in of an address-like username whose address is taken", errorOf(s.SignIn(ctx, "ada.dir@example.com", "ada-pw")), users.ErrDirectoryEmailTaken},
		} {
			wantErr(t, tc.what, tc.err, tc.target, "")
			if tc.err != nil && strings.Contains(strings.ToLower(tc.err.Error()), "example.com") {
				t.Errorf("%s: error %q names the address", tc.what, tc.err)
			}
		}
		s.Directory = nil // local sign-in
		for _, tc := range []struct {
			what, email, password string
			target                error
		}{
			{"a wrong password", "ada@example.com", "not the password", users.ErrInvalidCredentials},
			{"an unknown address", "nobody@example.com", password, users.ErrInvalidCredentials},
			{"an unconfirmed address", "Ada@Example.com", password, users.ErrEmailUnconfirmed},
		} {
			_, err := s.SignIn(ctx, tc.email, tc.password)
			wantErr(t, "SignIn with "+tc.what, err, tc.target, tc.password)
			if err != nil && strings.Contains(strings.ToLower(err.Error()), "example.com") {
				t.Errorf("SignIn with %s: error %q names the address", tc.what, err)
			}
		}
	})
}

func TestRoles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		r, err := s.AddRole(ctx, "editors")
		if err != nil || r.ID == 0 || r.Name != "editors" {
			t.Fatalf("AddRole = %+v, %v", r, err)
		}
		for _, name := range []string{"a", "ops-team_2", strings.Repeat("x", 50)} {
			if _, err := s.AddRole(ctx, name); err != nil {
				t.Errorf("AddRole(%q): %v", name, err)
			}
		}
		_, err = s.AddRole(ctx, "editors")
		wantErr(t, "AddRole of an existing role", err, users.ErrRoleExists, "")
		_, err = s.AddRole(ctx, users.RoleAdmin)
		wantErr(t, "AddRole of a seeded role", err, users.ErrRoleExists, "")
		for _, name := range []string{"", "Editors", "with space", "dots.no", "ünïcode", strings.Repeat("x", 51)} {
			_, err := s.AddRole(ctx, name)
			wantErr(t, "AddRole("+name+")", err, users.ErrInvalidRoleName, "")
		}

		mustCreate(t, s, "ada@example.com")
		// Granting by address, as `manage user roles --add` does.
		grant := func(email, role string) error {
			u, err := s.ByEmail(ctx, email)
			if err == nil {
				_, err = s.ChangeRoles(ctx, u.ID, users.RoleChange{Add: []string{role}})
			}
			return err
		}
		if err := grant("Ada@example.com", "editors"); err != nil {
			t.Fatalf("Grant: %v", err)
		}
		if err := grant("ada@example.com", "editors"); err != nil {
			t.Errorf("Grant of a role already held: %v", err)
		}
		u, err := s.ByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(u.RoleNames(), []string{"editors", "user"}) {
			t.Errorf("roles after Grant = %v, want [editors user]", u.RoleNames())
		}
		if u := mustCreate(t, s, "grace@example.com", "editors"); !u.HasRole("editors") {
			t.Errorf("Create with an added role gave %v", u.RoleNames())
		}
		wantErr(t, "Grant of an unknown role", grant("ada@example.com", "wizard"), users.ErrUnknownRole, "")
		wantErr(t, "Grant to an unknown user", grant("nobody@example.com", "editors"), users.ErrNotFound, "")
	})
}

func TestUsersMigration(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		var seeded []string
		if err := d.Gorm.Model(&users.Role{}).Order("name").Pluck("name", &seeded).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seeded, []string{"admin", "dev", "user"}) {
			t.Errorf("seeded roles = %v, want [admin dev user]", seeded)
		}

		// Deleting a user deletes its role links (ON DELETE CASCADE).
		u := mustCreate(t, s, "ada@example.com", users.RoleDev)
		if err := d.Gorm.Delete(&users.User{}, u.ID).Error; err != nil {
			t.Fatalf("delete user: %v", err)
		}
		var links int64
		if err := d.Gorm.Table("user_roles").Where("user_id = ?", u.ID).Count(&links).Error; err != nil {
			t.Fatal(err)
		}
		if links != 0 {
			t.Errorf("%d user_roles rows outlived their user", links)
		}

		m, err := db.NewMigrator(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Reset(ctx); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		for _, table := range []string{"users", "roles", "user_roles"} {
			if d.Gorm.Migrator().HasTable(table) {
				t.Errorf("table %s exists after rolling back every migration", table)
			}
		}
	})
}

func TestHasRoleAdminHoldsEveryRole(t *testing.T) {
	with := func(names ...string) *users.User {
		u := &users.User{}
		for _, n := range names {
			u.Roles = append(u.Roles, users.Role{Name: n})
		}
		return u
	}
	for _, tc := range []struct {
		user *users.User
		role string
		want bool
	}{
		{with("admin"), "admin", true},
		{with("admin"), "dev", true},
		{with("admin"), "user", true},
		{with("admin"), "editors", true},
		{with("dev", "user"), "dev", true},
		{with("dev", "user"), "user", true},
		{with("dev", "user"), "admin", false},
		{with("user"), "dev", false},
		{with(), "user", false},
	} {
		if got := tc.user.HasRole(tc.role); got != tc.want {
			t.Errorf("user with %v: HasRole(%q) = %v, want %v", tc.user.RoleNames(), tc.role, got, tc.want)
		}
	}
}

func TestGeneratePassword(t *testing.T) {
	alnum := regexp.MustCompile(`^[A-Za-z0-9]{20}$`)
	seen := map[string]bool{}
	for range 100 {
		pw, err := users.GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if !alnum.MatchString(pw) {
			t.Fatalf("GeneratePassword() = %q, want 20 letters and digits", pw)
		}
		if seen[pw] {
			t.Fatalf("GeneratePassword repeated %q", pw)
		}
		seen[pw] = true
	}
}

// TestUserLoadsInOneQuery: loading a user with its roles — what every
// signed-in request does — is one round trip to the database.
func TestUserLoadsInOneQuery(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		dev := mustCreate(t, s, "dev@example.com", "dev")
		plain := mustCreate(t, s, "plain@example.com")
		none := mustCreate(t, s, "none@example.com")
		if err := d.Gorm.Exec("DELETE FROM user_roles WHERE user_id = ?", none.ID).Error; err != nil {
			t.Fatal(err)
		}

		for _, tt := range []struct {
			id    uint
			roles string
		}{{dev.ID, "dev,user"}, {plain.ID, "user"}, {none.ID, ""}} {
			ctx, n := db.CountQueries(t.Context())
			u, err := s.ByID(ctx, tt.id)
			if err != nil {
				t.Fatalf("ByID(%d): %v", tt.id, err)
			}
			if got := strings.Join(u.RoleNames(), ","); got != tt.roles {
				t.Errorf("ByID(%d) roles = %q, want %q", tt.id, got, tt.roles)
			}
			if q := n.N(); q != 1 {
				t.Errorf("ByID(%d) took %d queries, want 1", tt.id, q)
			}
		}
		ctx, n := db.CountQueries(t.Context())
		if u, err := s.ByEmail(ctx, "DEV@example.com"); err != nil || u.ID != dev.ID || !u.HasRole("dev") {
			t.Errorf("ByEmail = %+v, %v", u, err)
		}
		if q := n.N(); q != 1 {
			t.Errorf("ByEmail took %d queries, want 1", q)
		}
		if _, err := s.ByID(t.Context(), 99999); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("ByID(unknown) error = %v, want ErrNotFound", err)
		}

		// An API call: the key, its user and roles in one query (and the
		// last-used time written at most once a minute).
		_, raw, err := s.CreateAPIKey(t.Context(), dev.ID, "script")
		if err != nil {
			t.Fatal(err)
		}
		ctx, n = db.CountQueries(t.Context())
		if _, err := s.AuthenticateAPIKey(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if q := n.N(); q != 2 {
			t.Errorf("the first AuthenticateAPIKey took %d statements, want 2 (the lookup and the last-used time)", q)
		}
		ctx, n = db.CountQueries(t.Context())
		u, err := s.AuthenticateAPIKey(ctx, raw)
		if err != nil || u.ID != dev.ID || !u.HasRole("dev") {
			t.Fatalf("AuthenticateAPIKey = %+v, %v", u, err)
		}
		if q := n.N(); q != 1 {
			t.Errorf("AuthenticateAPIKey within a minute took %d statements, want 1", q)
		}
	})
}

// TestNULBytesAreRefusedWithoutAQuery: text PostgreSQL cannot hold (a NUL
// byte, invalid UTF-8) is an ordinary "not found" or "invalid" on every
// database, not a database error.
func TestNULBytesAreRefusedWithoutAQuery(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		u := mustCreate(t, s, "ada@example.com")
		for _, bad := range []string{"ada\x00@example.com", "ada\xff@example.com"} {
			if _, err := s.ByEmail(ctx, bad); !errors.Is(err, users.ErrNotFound) {
				t.Errorf("ByEmail(%q): %v, want ErrNotFound", bad, err)
			}
			if _, err := s.SignIn(ctx, bad, password); !errors.Is(err, users.ErrInvalidCredentials) {
				t.Errorf("SignIn(%q): %v, want ErrInvalidCredentials", bad, err)
			}
			if err := s.SetName(ctx, u.ID, bad); !errors.Is(err, users.ErrInvalidName) {
				t.Errorf("SetName(%q): %v, want ErrInvalidName", bad, err)
			}
			if _, _, err := s.CreateAPIKey(ctx, u.ID, bad); !errors.Is(err, users.ErrInvalidAPIKeyName) {
				t.Errorf("CreateAPIKey(%q): %v, want ErrInvalidAPIKeyName", bad, err)
			}
			if _, err := s.Create(ctx, bad, password); !errors.Is(err, users.ErrInvalidEmail) {
				t.Errorf("Create(%q): %v, want ErrInvalidEmail", bad, err)
			}
		}
	})
}
