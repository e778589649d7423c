package users_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

func TestListPagesNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		for i := range 5 {
			mustCreate(t, s, fmt.Sprintf("u%d@example.com", i))
		}
		p, err := s.List(context.Background(), users.ListQuery{Page: 2, PerPage: 2})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 5 || len(p.Users) != 2 || p.Users[0].Email != "u2@example.com" || p.Users[1].Email != "u1@example.com" {
			t.Fatalf("page = total %d, %d users starting %+v", p.Total, len(p.Users), p.Users)
		}
		if len(p.Users[0].Roles) != 1 || p.Users[0].Roles[0].Name != users.RoleUser {
			t.Errorf("roles not loaded: %+v", p.Users[0].Roles)
		}
	})
}

func TestStats(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		mustCreate(t, s, "a@example.com", users.RoleAdmin)
		b := mustCreate(t, s, "b@example.com", users.RoleDev)
		mustCreate(t, s, "c@example.com")
		if err := d.Gorm.Model(&users.User{}).Where("id = ?", b.ID).Update("active", false).Error; err != nil {
			t.Fatal(err)
		}
		st, err := s.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Users != 3 || st.Active != 2 || st.Confirmed != 0 {
			t.Errorf("stats = %+v", st)
		}
		if st.ByRole["user"] != 3 || st.ByRole["admin"] != 1 || st.ByRole["dev"] != 1 {
			t.Errorf("by role = %v", st.ByRole)
		}
	})
}

func TestUpdate(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := context.Background()
		u := mustCreate(t, s, "ada@example.com", users.RoleDev)
		mustCreate(t, s, "taken@example.com")

		got, err := s.Update(ctx, u.ID, users.Changes{Email: " Ada.L@Example.com ", Name: " Ada ", Active: false, Roles: []string{users.RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "ada.l@example.com" || got.Name != "Ada" || got.Active || !slices.Equal(got.RoleNames(), []string{"admin", "user"}) {
			t.Errorf("updated = %+v roles %v", got, got.RoleNames())
		}
		for _, tc := range []struct {
			c    users.Changes
			want error
		}{
			{users.Changes{Email: "TAKEN@example.com"}, users.ErrEmailTaken},
			{users.Changes{Email: "not an email"}, users.ErrInvalidEmail},
			{users.Changes{Email: "ada@example.com", Roles: []string{"nope"}}, users.ErrUnknownRole},
			{users.Changes{Email: "ada@example.com", Name: string(make([]rune, 201))}, users.ErrInvalidName},
		} {
			if _, err := s.Update(ctx, u.ID, tc.c); !errors.Is(err, tc.want) {
				t.Errorf("Update(%+v) = %v, want %v", tc.c, err, tc.want)
			}
		}
		// A refused update changes nothing.
		after, _ := s.ByID(ctx, u.ID)
		if after.Email != "ada.l@example.com" || !slices.Equal(after.RoleNames(), []string{"admin", "user"}) {
			t.Errorf("a failed update changed the user: %+v %v", after, after.RoleNames())
		}
		if _, err := s.Update(ctx, 9999, users.Changes{Email: "x@example.com"}); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}

func TestDelete(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := context.Background()
		u := mustCreate(t, s, "ada@example.com", users.RoleDev)
		if err := s.Delete(ctx, 0, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByID(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("deleted user still found: %v", err)
		}
		if err := s.Delete(ctx, 0, u.ID); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("second delete = %v", err)
		}
		st, _ := s.Stats(ctx)
		if st.ByRole["dev"] != 0 {
			t.Errorf("role links survived the user: %v", st.ByRole)
		}
	})
}

// TestAnAdminAlwaysRemains: no edit or deletion may leave the site without
// an active admin — not even two admins demoting each other at the same
// moment.
func TestAnAdminAlwaysRemains(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := context.Background()
		a := mustCreate(t, s, "a@example.com", users.RoleAdmin)
		if _, err := s.Update(ctx, a.ID, users.Changes{Email: "a@example.com", Active: true}); !errors.Is(err, users.ErrLastAdmin) {
			t.Errorf("demoting the only admin: %v, want ErrLastAdmin", err)
		}
		if _, err := s.Update(ctx, a.ID, users.Changes{Email: "a@example.com", Active: false, Roles: []string{users.RoleAdmin}}); !errors.Is(err, users.ErrLastAdmin) {
			t.Errorf("deactivating the only admin: %v, want ErrLastAdmin", err)
		}
		if err := s.Delete(ctx, 0, a.ID); !errors.Is(err, users.ErrLastAdmin) {
			t.Errorf("deleting the only admin: %v, want ErrLastAdmin", err)
		}

		for round := range 8 {
			b := mustCreate(t, s, fmt.Sprintf("b%d@example.com", round), users.RoleAdmin)
			admins := []*users.User{a, b}
			errs := make(chan error, 2)
			gate := make(chan struct{})
			for i, target := range admins {
				go func() {
					<-gate
					var err error
					if i == 0 {
						_, err = s.Update(ctx, target.ID, users.Changes{Email: target.Email, Active: true})
					} else {
						err = s.Delete(ctx, 0, target.ID)
					}
					errs <- err
				}()
			}
			close(gate)
			var lastAdmin int
			for range 2 {
				if err := <-errs; errors.Is(err, users.ErrLastAdmin) {
					lastAdmin++
				} else if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			var n int64
			err := d.Gorm.Table("users").Joins("JOIN user_roles ON user_roles.user_id = users.id").
				Joins("JOIN roles ON roles.id = user_roles.role_id").
				Where("roles.name = ? AND users.active = ?", users.RoleAdmin, true).Count(&n).Error
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 || lastAdmin != 1 {
				t.Fatalf("round %d: %d active admins left, %d changes refused; want 1 and 1", round, n, lastAdmin)
			}
			// Back to a as the only admin for the next round.
			if u, err := s.ByID(ctx, a.ID); err == nil && !u.HasRole(users.RoleAdmin) {
				if _, err := s.Update(ctx, a.ID, users.Changes{Email: a.Email, Active: true, Roles: []string{users.RoleAdmin}}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Delete(ctx, 0, b.ID); err != nil && !errors.Is(err, users.ErrNotFound) {
				t.Fatal(err)
			}
		}
	})
}

// TestAccountRulesHoldForEveryCaller: the rules that once lived in the
// web handlers are the users service's, so the admin panel, the JSON API
// and manage get the same answers: an admin cannot demote, deactivate or
// delete their own account; only the API key role holds and uses keys;
// with confirmed addresses required, an unconfirmed account cannot sign
// in even with its right password.
func TestAccountRulesHoldForEveryCaller(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		root := mustCreate(t, s, "root@example.com", users.RoleAdmin)
		other := mustCreate(t, s, "other@example.com", users.RoleAdmin)
		for _, c := range []users.Changes{
			{Email: root.Email, Active: true, Roles: nil, By: root.ID},
			{Email: root.Email, Active: false, Roles: []string{users.RoleAdmin}, By: root.ID},
		} {
			if _, err := s.Update(ctx, root.ID, c); !errors.Is(err, users.ErrOwnAccount) {
				t.Errorf("an admin's change %+v of their own account: %v, want ErrOwnAccount", c, err)
			}
		}
		if _, err := s.Update(ctx, root.ID, users.Changes{Email: root.Email, Name: "Root", Active: true, Roles: []string{users.RoleAdmin}, By: root.ID}); err != nil {
			t.Errorf("an admin renaming themselves: %v", err)
		}
		if err := s.Delete(ctx, root.ID, root.ID); !errors.Is(err, users.ErrOwnAccount) {
			t.Errorf("an admin deleting themselves: %v, want ErrOwnAccount", err)
		}
		if _, err := s.Update(ctx, other.ID, users.Changes{Email: other.Email, Active: true, By: root.ID}); err != nil {
			t.Errorf("an admin demoting another admin: %v", err)
		}

		plain := mustCreate(t, s, "plain@example.com")
		if _, _, err := s.CreateAPIKey(ctx, plain.ID, "script"); !errors.Is(err, users.ErrAPIKeysNotAllowed) {
			t.Errorf("an API key for a user without the %s role: %v, want ErrAPIKeysNotAllowed", users.APIKeyRole, err)
		}
		dev := mustCreate(t, s, "dev@example.com", users.APIKeyRole)
		_, raw := mustCreateKey(t, s, dev.ID, "script")
		if _, err := s.Update(ctx, dev.ID, users.Changes{Email: dev.Email, Active: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateAPIKey(ctx, raw); !errors.Is(err, users.ErrAPIKeysNotAllowed) {
			t.Errorf("a key of a user who lost the %s role: %v, want ErrAPIKeysNotAllowed", users.APIKeyRole, err)
		}

		s.RequireConfirmedEmail = true
		if _, err := s.SignIn(ctx, plain.Email, password); !errors.Is(err, users.ErrEmailUnconfirmed) {
			t.Errorf("an unconfirmed account's right password: %v, want ErrEmailUnconfirmed", err)
		}
		if _, err := s.SignIn(ctx, plain.Email, "a wrong password"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("an unconfirmed account's wrong password: %v, want ErrInvalidCredentials", err)
		}
		confirmed, err := s.CreateConfirmed(ctx, "confirmed@example.com", password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignIn(ctx, confirmed.Email, password); err != nil {
			t.Errorf("a confirmed account: %v", err)
		}
	})
}

// TestChangeRoles: roles are granted and taken away one by one (what
// `manage user roles` does), a change of the API key role reaching the
// user's keys at once, and every name is checked.
func TestChangeRoles(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		if _, err := s.AddRole(ctx, "editors"); err != nil {
			t.Fatal(err)
		}
		ada := mustCreate(t, s, "ada@example.com")
		if _, _, err := s.CreateAPIKey(ctx, ada.ID, "script"); !errors.Is(err, users.ErrAPIKeysNotAllowed) {
			t.Fatalf("an API key before the grant: %v", err)
		}
		steps := []struct {
			c    users.RoleChange
			want []string
		}{
			{users.RoleChange{Add: []string{users.APIKeyRole, "editors", "editors"}}, []string{"dev", "editors", "user"}},
			{users.RoleChange{Add: []string{users.APIKeyRole}}, []string{"dev", "editors", "user"}},   // held already
			{users.RoleChange{Remove: []string{users.RoleAdmin}}, []string{"dev", "editors", "user"}}, // not held
			{users.RoleChange{Add: []string{users.RoleUser}, Remove: []string{"editors"}}, []string{"dev", "user"}},
		}
		for _, step := range steps {
			got, err := s.ChangeRoles(ctx, ada.ID, step.c)
			if err != nil || !slices.Equal(got.RoleNames(), step.want) {
				t.Fatalf("ChangeRoles(%+v) = %v, %v; want %v", step.c, got.RoleNames(), err, step.want)
			}
		}
		_, raw := mustCreateKey(t, s, ada.ID, "script")
		if _, err := s.ChangeRoles(ctx, ada.ID, users.RoleChange{Remove: []string{users.APIKeyRole}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateAPIKey(ctx, raw); !errors.Is(err, users.ErrAPIKeysNotAllowed) {
			t.Errorf("a key after its user lost the %s role: %v, want ErrAPIKeysNotAllowed", users.APIKeyRole, err)
		}

		for _, tc := range []struct {
			name string
			c    users.RoleChange
			want error
		}{
			{"an unknown role", users.RoleChange{Add: []string{"dev", "wizard"}}, users.ErrUnknownRole},
			{"an unknown role taken away", users.RoleChange{Remove: []string{"wizard"}}, users.ErrUnknownRole},
			{"a name no role can have", users.RoleChange{Add: []string{"dev\x00"}}, users.ErrUnknownRole},
			{"the user role taken away", users.RoleChange{Remove: []string{users.RoleUser}}, users.ErrUserRoleKept},
		} {
			if _, err := s.ChangeRoles(ctx, ada.ID, tc.c); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		if _, err := s.ChangeRoles(ctx, ada.ID, users.RoleChange{Add: []string{"editors"}, Remove: []string{"editors"}}); err == nil || !strings.Contains(err.Error(), "both added and removed") {
			t.Errorf("a role both added and removed: %v", err)
		}
		if u, _ := s.ByID(ctx, ada.ID); !slices.Equal(u.RoleNames(), []string{"user"}) {
			t.Errorf("refused changes changed the roles: %v", u.RoleNames())
		}
		if _, err := s.ChangeRoles(ctx, 9999, users.RoleChange{Add: []string{"dev"}}); !errors.Is(err, users.ErrNotFound) {
			t.Errorf("an unknown id: %v, want ErrNotFound", err)
		}
	})
}

// TestChangeRolesKeepsTheAdminRules: the last active admin stays one, an
// admin keeps admin on their own account, and of two admins taking admin
// from each other at the same moment one is refused.
func TestChangeRolesKeepsTheAdminRules(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		ctx := t.Context()
		demote := users.RoleChange{Remove: []string{users.RoleAdmin}}
		root := mustCreate(t, s, "root@example.com", users.RoleAdmin)
		if _, err := s.ChangeRoles(ctx, root.ID, demote); !errors.Is(err, users.ErrLastAdmin) {
			t.Errorf("demoting the only admin: %v, want ErrLastAdmin", err)
		}
		other := mustCreate(t, s, "other@example.com", users.RoleAdmin)
		if _, err := s.ChangeRoles(ctx, root.ID, users.RoleChange{Remove: demote.Remove, By: root.ID}); !errors.Is(err, users.ErrOwnAccount) {
			t.Errorf("an admin demoting themselves: %v, want ErrOwnAccount", err)
		}
		if got, err := s.ChangeRoles(ctx, other.ID, users.RoleChange{Remove: demote.Remove, By: root.ID}); err != nil || got.HasRole(users.RoleAdmin) {
			t.Errorf("an admin demoting another admin: %v, %v", got, err)
		}

		for round := range 4 {
			b := mustCreate(t, s, fmt.Sprintf("b%d@example.com", round), users.RoleAdmin)
			errs := make(chan error, 2)
			gate := make(chan struct{})
			for _, target := range []*users.User{root, b} {
				go func() {
					<-gate
					_, err := s.ChangeRoles(ctx, target.ID, demote)
					errs <- err
				}()
			}
			close(gate)
			refused := 0
			for range 2 {
				if err := <-errs; errors.Is(err, users.ErrLastAdmin) {
					refused++
				} else if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			st, err := s.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if refused != 1 || st.ByRole[users.RoleAdmin] != 1 {
				t.Fatalf("round %d: %d refused, %d admins left; want 1 and 1", round, refused, st.ByRole[users.RoleAdmin])
			}
			// root is the only admin again for the next round.
			if _, err := s.ChangeRoles(ctx, root.ID, users.RoleChange{Add: []string{users.RoleAdmin}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, 0, b.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}
