package users

import (
	"errors"
	"fmt"
)

// The errors the Service returns, wrapped with context; test for them
// with errors.Is. None of them ever carries a password, a token, an API
// key or an email address: errors are logged. (A password the policy
// refuses is also a *PasswordProblem saying how, see CheckPassword.)

// Accounts.
var (
	// ErrNotFound: no user has that email address or id.
	ErrNotFound = errors.New("user not found")
	// ErrEmailTaken: another user already has that email address
	// (compared case-insensitively).
	ErrEmailTaken = errors.New("email address already registered")
	// ErrInvalidEmail: not a bare email address like ada@example.com.
	ErrInvalidEmail = errors.New("not a valid email address")
	// ErrInvalidName: the display name is longer than MaxNameLen
	// characters or is not valid UTF-8.
	ErrInvalidName = fmt.Errorf("name must be at most %d characters of plain text", MaxNameLen)
	// ErrOwnAccount: an admin tried to demote, deactivate or delete their
	// own account, which would lock them out of the panel they act from.
	ErrOwnAccount = errors.New("an admin cannot take admin away from, deactivate or delete their own account")
	// ErrLastAdmin: the change would take away the last active admin.
	ErrLastAdmin = errors.New("the site must keep at least one active admin")
)

// Passwords, sign-in and sessions.
var (
	// ErrInvalidPassword: the password breaks the policy (CheckPassword);
	// the error is a *PasswordProblem saying how.
	ErrInvalidPassword = errors.New("password not allowed")
	// ErrInvalidCredentials: unknown email, wrong password or inactive
	// account — deliberately one error, so a caller cannot tell which.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrEmailUnconfirmed: the password is right, but RequireConfirmedEmail
	// holds the account back until its address is confirmed.
	ErrEmailUnconfirmed = errors.New("the email address is not confirmed yet")
	// ErrSessionEnded: the caller's own session was ended (the user's
	// session key changed) before its request could act.
	ErrSessionEnded = errors.New("session already ended")
)

// Directory sign-in (USER_LDAP). The directory's own errors
// (directory.ErrUnavailable, ErrNoEmail, ErrNoRole) come through as they
// are.
var (
	// ErrDirectoryManaged: the account's password, address and
	// directory roles belong to the directory; they are not changed here.
	ErrDirectoryManaged = errors.New("the account is managed by the company directory")
	// ErrDirectoryEmailTaken: another account (a local one, or another
	// directory user's) already has the directory user's address. It is
	// not taken over: an admin decides (delete or change that account).
	ErrDirectoryEmailTaken = errors.New("another account already has the directory user's email address")
)

// Roles.
var (
	// ErrUnknownRole: no role has that name.
	ErrUnknownRole = errors.New("unknown role")
	// ErrRoleExists: a role with that name already exists.
	ErrRoleExists = errors.New("role already exists")
	// ErrInvalidRoleName: role names are 1 to 50 lower-case letters,
	// digits, '-' or '_'.
	ErrInvalidRoleName = errors.New("role names are 1 to 50 lower-case letters, digits, '-' or '_'")
	// ErrUserRoleKept: every account holds the user role (SPEC:
	// registered users get it); it is not taken away.
	ErrUserRoleKept = errors.New("every account keeps the " + RoleUser + " role")
)

// Tokens of password-reset and email-confirmation links.
var (
	// ErrInvalidToken: the token is malformed, unknown, was issued for
	// another purpose, was replaced by a newer one, or belongs to an
	// inactive account.
	ErrInvalidToken = errors.New("invalid or unknown token")
	// ErrTokenExpired: the token was valid but its time is up.
	ErrTokenExpired = errors.New("token expired")
	// ErrTokenUsed: the token was already used once.
	ErrTokenUsed = errors.New("token already used")
)

// API keys.
var (
	// ErrInvalidAPIKey: the key is malformed, unknown or revoked, or its
	// user is inactive — deliberately one error, so a caller cannot tell
	// which.
	ErrInvalidAPIKey = errors.New("invalid API key")
	// ErrAPIKeyNotFound: the user holds no unrevoked key with that id.
	// Another user's key is reported the same way, never touched.
	ErrAPIKeyNotFound = errors.New("API key not found")
	// ErrInvalidAPIKeyName: the key's name is longer than
	// MaxAPIKeyNameLen characters or is not valid UTF-8.
	ErrInvalidAPIKeyName = fmt.Errorf("API key names must be at most %d characters of plain text", MaxAPIKeyNameLen)
	// ErrTooManyAPIKeys: the user already holds MaxAPIKeys unrevoked
	// keys; one must be revoked before another is made.
	ErrTooManyAPIKeys = fmt.Errorf("at most %d API keys may work at once", MaxAPIKeys)
	// ErrAPIKeysNotAllowed: the user lacks APIKeyRole.
	ErrAPIKeysNotAllowed = errors.New("API keys need the " + APIKeyRole + " role")
)

// Sign-in through an OpenID Connect provider and linked identities
// (identities.go).
var (
	// ErrLinkRequired: an account already has the address the provider
	// gives, and the identity is not linked to it. It is not linked
	// silently: the account's owner signs in the usual way first, then
	// links the identity from the security page.
	ErrLinkRequired = errors.New("an account has this email address: sign in to it first, then link the identity")
	// ErrSignupClosed: no account has the address, and the provider may
	// not create accounts (allow_signup) or registration is closed.
	ErrSignupClosed = errors.New("no account has this email address, and signing up through this provider is closed")
	// ErrEmailNotVerified: the provider gave no address, or did not say
	// it verified it, where an account would be made with it.
	ErrEmailNotVerified = errors.New("the provider did not give a verified email address")
	// ErrEmailDomainNotAllowed: the address's domain is not among the
	// provider's allowed domains.
	ErrEmailDomainNotAllowed = errors.New("email domain not allowed for this provider")
	// ErrNotInAllowedGroup: the provider maps groups to the user role,
	// and the user's groups give no role.
	ErrNotInAllowedGroup = errors.New("the provider's groups give the user no role here")
	// ErrAccountInactive: the account was deactivated by an admin.
	ErrAccountInactive = errors.New("the account is deactivated")
	// ErrIdentityTaken: the identity is linked to another account.
	ErrIdentityTaken = errors.New("the identity is linked to another account")
	// ErrIdentityNotFound: the user has no linked identity with that id.
	// Another user's is reported the same way, never touched.
	ErrIdentityNotFound = errors.New("identity not found")
	// ErrLastWayIn: unlinking the identity would leave the account with
	// no way in (no password, no directory, no other identity).
	ErrLastWayIn = errors.New("the identity is the account's last way in")
	// ErrInvalidIdentity: the provider's issuer or subject is empty, not
	// ASCII, or too long to store.
	ErrInvalidIdentity = errors.New("the provider's issuer or subject cannot be stored")
	// ErrNoPassword: the account has no local password to check or
	// change (made by a sign-in through a provider); a password reset by
	// mail sets a first one.
	ErrNoPassword = errors.New("the account has no password yet")
)
