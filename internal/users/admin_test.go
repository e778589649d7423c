package users_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

func TestListPagesNewestFirst(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, _ *db.DB) {
		for i := range 5 {
			mustCreate(t, s, fmt.Sprintf("u%d@example.com", i))
		}
		p, err := s.List(context.Background(), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 5 || len(p.Users) != 2 || p.Users[0].Email != "u3@example.com" || p.Users[1].Email != "u2@example.com" {
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
		if _, err := s.Authenticate(ctx, plain.Email, password); !errors.Is(err, users.ErrEmailUnconfirmed) {
			t.Errorf("an unconfirmed account's right password: %v, want ErrEmailUnconfirmed", err)
		}
		if _, err := s.Authenticate(ctx, plain.Email, "a wrong password"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("an unconfirmed account's wrong password: %v, want ErrInvalidCredentials", err)
		}
		confirmed, err := s.CreateConfirmed(ctx, "confirmed@example.com", password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, confirmed.Email, password); err != nil {
			t.Errorf("a confirmed account: %v", err)
		}
	})
}
