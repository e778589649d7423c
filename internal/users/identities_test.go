package users_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// acme is a sign-in through provider "acme" as user sub, with address email.
func acme(sub, email string) users.ProviderIdentity {
	return users.ProviderIdentity{Provider: "acme", Issuer: "https://id.acme.test", Subject: sub, Email: email,
		EmailVerified: true, EmailAllowed: true, MayCreate: true}
}

func TestSignInWithIdentity(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()

		// No account has the address: one is made, confirmed, without a password.
		u, err := s.SignInWithIdentity(ctx, acme("sub-1", "Grace@Example.com"))
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "grace@example.com" || u.EmailConfirmedAt == nil || u.HasPassword() || !u.HasRole(users.RoleUser) {
			t.Fatalf("made %+v", u)
		}
		// The same identity again: the same account.
		again, err := s.SignInWithIdentity(ctx, acme("sub-1", "grace.new@example.com"))
		if err != nil || again.ID != u.ID {
			t.Fatalf("second sign-in = %v, %v", again, err)
		}
		ids, err := s.Identities(ctx, u.ID)
		if err != nil || len(ids) != 1 || ids[0].Email != "grace.new@example.com" || ids[0].LastUsedAt == nil {
			t.Fatalf("identities = %+v, %v", ids, err)
		}
		// A password-less account does not sign in with a password.
		if _, err := s.SignIn(ctx, "grace@example.com", ""); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Errorf("password sign-in of a password-less account = %v", err)
		}
		if _, err := s.ChangePassword(ctx, u.ID, "", "a brand new passphrase"); !errors.Is(err, users.ErrNoPassword) {
			t.Errorf("change password = %v", err)
		}

		// An account has the address: never linked silently, even verified.
		ada := mustCreate(t, s, "ada@example.com")
		if _, err := s.SignInWithIdentity(ctx, acme("attacker", "ada@example.com")); !errors.Is(err, users.ErrLinkRequired) {
			t.Errorf("attacker's identity = %v, want ErrLinkRequired", err)
		}
		unverified := acme("attacker", "ada@example.com")
		unverified.TrustEmail, unverified.EmailVerified = true, false
		if _, err := s.SignInWithIdentity(ctx, unverified); !errors.Is(err, users.ErrLinkRequired) {
			t.Errorf("trusted but unverified = %v, want ErrLinkRequired", err)
		}
		if ids, _ := s.Identities(ctx, ada.ID); len(ids) != 0 {
			t.Fatalf("linked %+v", ids)
		}
		// A provider trusted for email that verified it: linked.
		trusted := acme("ada-at-acme", "ada@example.com")
		trusted.TrustEmail = true
		if got, err := s.SignInWithIdentity(ctx, trusted); err != nil || got.ID != ada.ID {
			t.Fatalf("trusted = %v, %v", got, err)
		}

		// Refusals.
		closed := acme("sub-2", "new@example.com")
		closed.MayCreate = false
		if _, err := s.SignInWithIdentity(ctx, closed); !errors.Is(err, users.ErrSignupClosed) {
			t.Errorf("signup closed = %v", err)
		}
		notVerified := acme("sub-2", "new@example.com")
		notVerified.EmailVerified = false
		if _, err := s.SignInWithIdentity(ctx, notVerified); !errors.Is(err, users.ErrEmailNotVerified) {
			t.Errorf("unverified signup = %v", err)
		}
		notVerified.TrustEmail = true // the company's own provider vouches for its addresses
		if u, err := s.SignInWithIdentity(ctx, notVerified); err != nil || u.Email != "new@example.com" {
			t.Errorf("unverified signup through a trusted provider = %v, %v", u, err)
		}
		domain := acme("sub-1", "grace@example.com")
		domain.EmailAllowed = false
		if _, err := s.SignInWithIdentity(ctx, domain); !errors.Is(err, users.ErrEmailDomainNotAllowed) {
			t.Errorf("domain = %v", err)
		}
		bad := acme("sub\x00", "x@example.com")
		if _, err := s.SignInWithIdentity(ctx, bad); !errors.Is(err, users.ErrInvalidIdentity) {
			t.Errorf("bad subject = %v", err)
		}
		if _, err := s.Update(ctx, u.ID, users.Changes{Email: u.Email, Roles: u.RoleNames(), Active: false, Confirmed: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignInWithIdentity(ctx, acme("sub-1", "grace@example.com")); !errors.Is(err, users.ErrAccountInactive) {
			t.Errorf("deactivated = %v", err)
		}
	})
}

func TestIdentityRolesFollowTheGroups(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		p := acme("sub-1", "grace@example.com")
		p.Roles = []string{users.RoleDev}
		u, err := s.SignInWithIdentity(ctx, p)
		if err != nil || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Fatalf("first = %v, %v", u, err)
		}
		p.Roles = []string{}
		if u, err = s.SignInWithIdentity(ctx, p); err != nil || !slices.Equal(u.RoleNames(), []string{"user"}) {
			t.Fatalf("groups gone = %v, %v", u, err)
		}
		p.Roles = nil // no groups claim: left alone
		if _, err := s.ChangeRoles(ctx, u.ID, users.RoleChange{Add: []string{users.RoleDev}}); err != nil {
			t.Fatal(err)
		}
		if u, err = s.SignInWithIdentity(ctx, p); err != nil || !slices.Equal(u.RoleNames(), []string{"dev", "user"}) {
			t.Fatalf("no claim = %v, %v", u, err)
		}
	})
}

func TestLinkAndUnlink(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		ada := mustCreate(t, s, "ada@example.com")
		bob := mustCreate(t, s, "bob@example.com")
		if err := s.Link(ctx, ada.ID, acme("ada", "ada@acme.test")); err != nil {
			t.Fatal(err)
		}
		if err := s.Link(ctx, ada.ID, acme("ada", "ada@acme.test")); err != nil {
			t.Errorf("linking again = %v", err)
		}
		if err := s.Link(ctx, bob.ID, acme("ada", "ada@acme.test")); !errors.Is(err, users.ErrIdentityTaken) {
			t.Errorf("linking another's = %v", err)
		}
		if got, err := s.SignInWithIdentity(ctx, acme("ada", "whatever@example.com")); err != nil || got.ID != ada.ID {
			t.Fatalf("sign-in after link = %v, %v", got, err)
		}
		ids, _ := s.Identities(ctx, ada.ID)
		if _, err := s.Unlink(ctx, bob.ID, ids[0].ID); !errors.Is(err, users.ErrIdentityNotFound) {
			t.Errorf("unlink another's = %v", err)
		}
		after, err := s.Unlink(ctx, ada.ID, ids[0].ID)
		if err != nil || after.SessionKey == ada.SessionKey {
			t.Fatalf("unlink = %v, %v (sessions must end)", after, err)
		}

		// A password-less account keeps its last identity.
		g, err := s.SignInWithIdentity(ctx, acme("grace", "grace@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		ids, _ = s.Identities(ctx, g.ID)
		if _, err := s.Unlink(ctx, g.ID, ids[0].ID); !errors.Is(err, users.ErrLastWayIn) {
			t.Errorf("unlink the last way in = %v", err)
		}
		if err := s.Link(ctx, g.ID, acme("grace-2", "grace@example.com")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Unlink(ctx, g.ID, ids[0].ID); err != nil {
			t.Errorf("unlink with another left = %v", err)
		}
	})
}
