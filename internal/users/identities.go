package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
)

// Identities at OpenID Connect providers (OIDC_PROVIDERS, internal/sso):
// an account may have any number linked, each known by its provider's
// issuer and its subject there — never by its email address, which a
// provider lets its users set to anything. The table is user_identities
// (migration 00011).
//
// The rules of a sign-in through a provider (SignInWithIdentity):
//   - the identity is linked to an account: that account signs in;
//   - no account has the address: one is made (address confirmed, no
//     password), when the provider may create accounts, registration is
//     open and the provider says it verified the address (or is trusted
//     for email);
//   - an account has the address: it is never linked silently, since
//     anyone can open an account at some provider with your address and
//     that must not open your account (ErrLinkRequired: its owner signs in
//     the usual way, then links the identity from the security page). Only
//     a provider trusted for email (TrustEmail, the company's own) that
//     says the address is verified links it at once.
//
// An account made by a sign-in through a provider has no password
// (password_hash is ''): the password form refuses it as an unknown
// account would, and a password reset by mail sets a first one — the
// address was verified by the provider, and the mailbox's owner is the
// account's. Unlink refuses to take away an account's last way in.

// Identity is an identity at an OpenID Connect provider linked to an
// account. The schema lives in migrations/*/00011_user_identities.sql.
type Identity struct {
	ID     uint
	UserID uint
	// Provider is the configured name of the provider (OIDC_PROVIDERS'
	// name) the identity was linked through.
	Provider string
	// Issuer and Subject name the identity: the provider's issuer URL and
	// the user's subject there.
	Issuer, Subject string
	// Email is the address the provider last gave for the identity, for
	// people to read; it decides nothing.
	Email     string
	CreatedAt time.Time
	// LastUsedAt is when the identity last signed in; nil if it never has.
	LastUsedAt *time.Time
}

// TableName is the table of Identity.
func (Identity) TableName() string { return "user_identities" }

// Column widths of user_identities, in bytes.
const (
	maxProviderLen = 64
	maxIssuerLen   = 500
	maxSubjectLen  = 255
)

// ProviderIdentity is what a provider said about the user signing in
// through it: the claims of a verified ID token (sso.Claims) and what
// the provider's configuration decides.
type ProviderIdentity struct {
	// Provider is the provider's configured name.
	Provider string
	// Issuer and Subject name the identity.
	Issuer, Subject string
	// Email is the address the provider gives, and EmailVerified whether
	// it says it verified it.
	Email         string
	EmailVerified bool
	// Name is the user's display name there ("" when not given).
	Name string
	// Roles are the roles the provider's groups give the user
	// (sso.Provider.Roles); nil when the provider has no groups claim, and
	// roles are then left as they are.
	Roles []string
	// EmailAllowed: the address's domain is one the provider may sign in
	// (allowed_domains). A sign-in with another is ErrEmailDomainNotAllowed.
	EmailAllowed bool
	// MayCreate: the provider may create accounts (allow_signup) and
	// registration is open (USER_ENABLE_REGISTER).
	MayCreate bool
	// TrustEmail: the provider is trusted for email (trust_email), so a
	// verified address links to the account that has it.
	TrustEmail bool
	// GroupsRequired: the provider maps groups to the user role (roles:
	// user: […] with a groups claim), so, as with LDAP_GROUP_TO_ROLE_USER,
	// a user whose groups give no role may not sign in
	// (ErrNotInAllowedGroup): a linked account then loses the provider's
	// roles and its sessions.
	GroupsRequired bool
}

// refusedByGroups reports whether p's groups keep the user out.
func (p ProviderIdentity) refusedByGroups() bool { return p.GroupsRequired && len(p.Roles) == 0 }

// method is the security log's method of a sign-in through p.
func (p ProviderIdentity) method() string { return "sso:" + p.Provider }

// check refuses an identity no row of user_identities can hold.
func (p ProviderIdentity) check() error {
	ascii := func(s string, n int) bool {
		if s == "" || len(s) > n {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x21 || s[i] > 0x7e {
				return false
			}
		}
		return true
	}
	if !ascii(p.Provider, maxProviderLen) || !ascii(p.Issuer, maxIssuerLen) || !ascii(p.Subject, maxSubjectLen) {
		return ErrInvalidIdentity
	}
	return nil
}

// SSORoles are the roles a provider's groups decide, at every sign-in
// through it, when it has a groups claim: granted when the groups give
// them, taken away when they no longer do. The user role, which every
// account holds, is never taken away.
var SSORoles = []string{RoleAdmin, RoleDev}

// HasPassword reports whether the account has a local password: not a
// directory-managed account, nor one made by a sign-in through a
// provider that never set one.
func (u *User) HasPassword() bool { return !u.Directory() && u.PasswordHash != "" }

// Identities lists the identities linked to user id, oldest first.
func (s *Service) Identities(ctx context.Context, id uint) ([]Identity, error) {
	var list []Identity
	if err := s.db.WithContext(ctx).Where("user_id = ?", id).Order("created_at, id").Find(&list).Error; err != nil {
		return nil, fmt.Errorf("list the identities of user %d: %w", id, err)
	}
	return list, nil
}

// SignInWithIdentity returns the account that p signs in to, by the rules
// above, with roles loaded, bringing the provider's roles (p.Roles) up to
// date and recording, in the same transaction, what it links or creates.
// Refusals: ErrEmailDomainNotAllowed, ErrAccountInactive,
// ErrNotInAllowedGroup, ErrLinkRequired, ErrSignupClosed, ErrEmailNotVerified,
// ErrEmailUnconfirmed (RequireConfirmedEmail) and ErrInvalidIdentity.
// The sign-in itself is for the caller to record, with the session it
// starts.
func (s *Service) SignInWithIdentity(ctx context.Context, p ProviderIdentity) (*User, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("sign in through %s: %w", p.Provider, err)
	}
	if !p.EmailAllowed {
		return nil, fmt.Errorf("sign in through %s: %w", p.Provider, ErrEmailDomainNotAllowed)
	}
	var u *User
	var err error
	for attempt := 0; ; attempt++ {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			u, err = s.signInWithIdentityTx(ctx, tx, p)
			return err
		})
		if !errors.Is(err, gorm.ErrDuplicatedKey) || attempt > 0 {
			break
		}
		// Another sign-in linked the identity, or made the account, first:
		// look again.
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		err = ErrIdentityTaken
	}
	if err == nil && p.refusedByGroups() {
		// The roles taken away are committed; the sign-in is refused.
		err = ErrNotInAllowedGroup
	}
	if err != nil {
		return nil, fmt.Errorf("sign in through %s: %w", p.Provider, err)
	}
	if s.RequireConfirmedEmail && u.EmailConfirmedAt == nil {
		return nil, fmt.Errorf("sign in user %d through %s: %w", u.ID, p.Provider, ErrEmailUnconfirmed)
	}
	return u, nil
}

func (s *Service) signInWithIdentityTx(ctx context.Context, tx *gorm.DB, p ProviderIdentity) (*User, error) {
	now := db.Now()
	var linked Identity
	err := tx.Where("issuer = ? AND subject = ?", p.Issuer, p.Subject).Take(&linked).Error
	switch {
	case err == nil:
		// (a) The identity is linked: its account.
		if err := lockUser(tx, linked.UserID); err != nil {
			return nil, err
		}
		if p.refusedByGroups() {
			// The provider no longer lets the user in: an open session or an
			// API key must not keep admin or dev until someone notices.
			if err := tx.Model(&User{}).Where("id = ?", linked.UserID).
				Updates(map[string]any{"session_key": newSessionKey(), "updated_at": time.Now().UTC()}).Error; err != nil {
				return nil, err
			}
		} else if err := tx.Model(&Identity{}).Where("id = ?", linked.ID).
			Updates(map[string]any{"email": clipEmail(p.Email), "last_used_at": now}).Error; err != nil {
			return nil, err
		}
		return s.signedInThrough(ctx, tx, linked.UserID, p)
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, err
	}
	if p.refusedByGroups() {
		return nil, ErrNotInAllowedGroup
	}

	email, err := normalizeEmail(p.Email)
	if err != nil {
		// No address to find or make an account by.
		return nil, ErrEmailNotVerified
	}
	existing, err := s.byEmail(tx, email)
	switch {
	case err == nil:
		// (c) An account has the address: linked only when the provider is
		// trusted for email and verified it.
		if !p.TrustEmail || !p.EmailVerified {
			return nil, ErrLinkRequired
		}
		if !existing.Active {
			return nil, ErrAccountInactive
		}
		if err := s.linkTx(ctx, tx, existing.ID, p, now); err != nil {
			return nil, err
		}
		return s.signedInThrough(ctx, tx, existing.ID, p)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}

	// (b) No account has the address: make one.
	if !p.MayCreate {
		return nil, ErrSignupClosed
	}
	if !p.EmailVerified && !p.TrustEmail {
		// An address nobody verified would make an account that its
		// owner, signing up later, finds taken — and could then take over
		// by a password reset, with the stranger's identity still linked.
		// A provider trusted for email (the company's own, which owns the
		// addresses it gives: Entra ID sends no email_verified) may.
		return nil, ErrEmailNotVerified
	}
	name := strings.TrimSpace(p.Name)
	if !validName(name) {
		name = ""
	}
	roles, err := findRoles(tx, []string{RoleUser})
	if err != nil {
		return nil, err
	}
	u := &User{Email: email, Name: name, Active: true, EmailConfirmedAt: &now, SessionKey: newSessionKey(), Roles: roles}
	if err := tx.Omit("Roles.*").Create(u).Error; err != nil {
		return nil, err
	}
	if err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.AccountCreated, Method: p.method()}); err != nil {
		return nil, err
	}
	if err := s.linkTx(ctx, tx, u.ID, p, now); err != nil {
		return nil, err
	}
	return s.signedInThrough(ctx, tx, u.ID, p)
}

// signedInThrough finishes a sign-in of user id through p in tx: the
// account must be active, and the provider's roles are brought up to date.
func (s *Service) signedInThrough(ctx context.Context, tx *gorm.DB, id uint, p ProviderIdentity) (*User, error) {
	u, err := s.byID(tx, id)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, ErrAccountInactive
	}
	if p.Roles == nil || u.Directory() {
		// No groups claim; or the directory decides this account's roles.
		return u, nil
	}
	before := u.RoleNames()
	if err := setSSORoles(tx, id, p.Roles); err != nil {
		return nil, err
	}
	if u, err = s.byID(tx, id); err != nil {
		return nil, err
	}
	if after := u.RoleNames(); !slices.Equal(before, after) {
		err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.RolesChanged, Method: p.method(),
			Detail: "roles from the provider's groups: " + strings.Join(after, ", ")})
		if err != nil {
			return nil, err
		}
	}
	return u, nil
}

// setSSORoles makes user id hold exactly the roles of roles among
// SSORoles, leaving their other roles alone (setDirectoryRoles for the
// roles a provider decides).
func setSSORoles(tx *gorm.DB, id uint, roles []string) error {
	all, err := findRoles(tx, SSORoles)
	if err != nil {
		return err
	}
	var drop []uint
	var add []userRole
	for _, r := range all {
		if slices.Contains(roles, r.Name) {
			add = append(add, userRole{UserID: id, RoleID: r.ID})
		} else {
			drop = append(drop, r.ID)
		}
	}
	_, err = applyRoleRows(tx, id, drop, add)
	return err
}

// Link links identity p to the account of user id, whose owner is signed
// in and has just signed in through the provider (the security page's
// "Link"). An identity linked to another account is ErrIdentityTaken; one
// linked to this account already is left as it is (its address brought
// up to date). The link is recorded in the same transaction.
func (s *Service) Link(ctx context.Context, id uint, p ProviderIdentity) error {
	if err := p.check(); err != nil {
		return fmt.Errorf("link an identity at %s to user %d: %w", p.Provider, id, err)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, id); err != nil {
			return err
		}
		u, err := s.byID(tx, id)
		if err != nil {
			return err
		}
		if !u.Active {
			return ErrAccountInactive
		}
		return s.linkTx(ctx, tx, id, p, db.Now())
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		err = ErrIdentityTaken
	}
	if err != nil {
		return fmt.Errorf("link an identity at %s to user %d: %w", p.Provider, id, err)
	}
	return nil
}

// linkTx links p to user id in tx and records it, or
// finds it linked to id already (then only its address and last use
// change). Linked to another account is ErrIdentityTaken.
func (s *Service) linkTx(ctx context.Context, tx *gorm.DB, id uint, p ProviderIdentity, now time.Time) error {
	var found Identity
	err := tx.Where("issuer = ? AND subject = ?", p.Issuer, p.Subject).Take(&found).Error
	switch {
	case err == nil && found.UserID == id:
		return tx.Model(&Identity{}).Where("id = ?", found.ID).
			Updates(map[string]any{"email": clipEmail(p.Email), "last_used_at": now}).Error
	case err == nil:
		return ErrIdentityTaken
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return err
	}
	ident := &Identity{UserID: id, Provider: p.Provider, Issuer: p.Issuer, Subject: p.Subject, Email: clipEmail(p.Email), CreatedAt: now, LastUsedAt: &now}
	if err := tx.Create(ident).Error; err != nil {
		return err
	}
	return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.IdentityLinked, Method: p.method(),
		Detail: identityDetail(p.Provider, p.Email)})
}

// Unlink removes identity identityID from the account of user id, unless
// that would leave the account with no way in (ErrLastWayIn: no local
// password, no directory, no other identity). It ends the account's
// sessions, as a password change does, and returns the user as it is now
// so the caller's own session can go on with the new session key. An
// identity that is not the user's is ErrIdentityNotFound.
func (s *Service) Unlink(ctx context.Context, id, identityID uint) (*User, error) {
	var u *User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, id); err != nil {
			return err
		}
		var ident Identity
		err := tx.Where("id = ? AND user_id = ?", identityID, id).Take(&ident).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrIdentityNotFound
		}
		if err != nil {
			return err
		}
		if u, err = s.byID(tx, id); err != nil {
			return err
		}
		var others int64
		if err := tx.Model(&Identity{}).Where("user_id = ? AND id <> ?", id, identityID).Count(&others).Error; err != nil {
			return err
		}
		if others == 0 && !u.HasPassword() && !(u.Directory() && s.Directory != nil) {
			return ErrLastWayIn
		}
		if err := tx.Delete(&Identity{}, ident.ID).Error; err != nil {
			return err
		}
		if err := tx.Model(&User{}).Where("id = ?", id).
			Updates(map[string]any{"session_key": newSessionKey(), "updated_at": time.Now().UTC()}).Error; err != nil {
			return err
		}
		if err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.IdentityUnlinked,
			Method: "sso:" + ident.Provider, Detail: identityDetail(ident.Provider, ident.Email)}); err != nil {
			return err
		}
		u, err = s.byID(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unlink identity %d of user %d: %w", identityID, id, err)
	}
	return u, nil
}

// identityDetail is the security log's detail of an identity.
func identityDetail(provider, email string) string {
	if email == "" {
		return provider
	}
	return provider + " (" + email + ")"
}

// clipEmail is the address a provider gave, as user_identities.email
// holds it: plain text of at most maxEmailLen bytes ("" otherwise; it is
// for people to read only).
func clipEmail(email string) string {
	email = strings.ToLower(strings.TrimSpace(email))
	if len(email) > maxEmailLen || !db.PlainText(email) {
		return ""
	}
	return email
}
