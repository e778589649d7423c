package users

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/outbox"
)

// TaskAccountMail is the background task that mails an account link or
// notice. It is written to the outbox in the transaction of the change
// it belongs to (a new account, a request for a link), so the mail goes
// out exactly when the change is made, even if Redis was away at the
// time; internal/jobs sends it, looking the account up then.
const TaskAccountMail = "account:mail"

// AccountMailKind says which account mail a TaskAccountMail sends.
type AccountMailKind string

// The account mails.
const (
	// MailConfirmEmail: a link confirming the address, unless the account
	// is gone, inactive or confirmed already.
	MailConfirmEmail AccountMailKind = "confirm-email"
	// MailResetPassword: a link to choose a new password, if the address
	// has an active account; nothing otherwise.
	MailResetPassword AccountMailKind = "reset-password"
	// MailAlreadyRegistered: a notice to an address that someone tried to
	// register again.
	MailAlreadyRegistered AccountMailKind = "already-registered"
)

// How long the links in account mail work.
const (
	ResetLinkTTL   = time.Hour
	ConfirmLinkTTL = 48 * time.Hour
)

// AccountMail is the payload of a TaskAccountMail: the account by ID or
// by address.
type AccountMail struct {
	Kind   AccountMailKind `json:"kind"`
	UserID uint            `json:"user_id,omitempty"`
	Email  string          `json:"email,omitempty"`
}

func addAccountMail(tx *gorm.DB, m AccountMail) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return outbox.Add(tx, TaskAccountMail, payload)
}

// Register creates an account as Create does and, in the same
// transaction, its confirmation mail. For an address that has an account
// it fails with ErrEmailTaken, having written, when notifyOwner is set, a
// notice to the owner instead: a page that answers both cases alike then
// tells nobody which addresses have accounts.
func (s *Service) Register(ctx context.Context, email, password string, notifyOwner bool) (*User, error) {
	u, err := s.create(ctx, email, password, nil, false, origin{method: MethodRegister}, func(tx *gorm.DB, u *User) error {
		return addAccountMail(tx, AccountMail{Kind: MailConfirmEmail, UserID: u.ID})
	})
	if errors.Is(err, ErrEmailTaken) && notifyOwner {
		key := strings.ToLower(strings.TrimSpace(email))
		if nerr := addAccountMail(s.db.WithContext(ctx), AccountMail{Kind: MailAlreadyRegistered, Email: key}); nerr != nil {
			return nil, fmt.Errorf("register: notify the owner: %w", nerr)
		}
	}
	return u, err
}

// RequestPasswordReset writes the mail with a reset link for email. It
// does the same work whatever the address: the worker looks the account
// up and sends a link only if it exists and is active, so neither the
// caller's answer nor its timing says which addresses have accounts.
func (s *Service) RequestPasswordReset(ctx context.Context, email string) error {
	return s.requestMail(ctx, MailResetPassword, email)
}

// RequestConfirmation writes a new confirmation mail for email (the
// "send it again" page), sent if the address has an active account not
// yet confirmed; like RequestPasswordReset, alike for every address.
func (s *Service) RequestConfirmation(ctx context.Context, email string) error {
	return s.requestMail(ctx, MailConfirmEmail, email)
}

func (s *Service) requestMail(ctx context.Context, kind AccountMailKind, email string) error {
	key, err := normalizeEmail(email)
	if err != nil {
		return nil // no account has such an address
	}
	if err := addAccountMail(s.db.WithContext(ctx), AccountMail{Kind: kind, Email: key}); err != nil {
		return fmt.Errorf("request %s mail: %w", kind, err)
	}
	return nil
}

// AccountFor finds the account an AccountMail is about, by ID or address.
func (s *Service) AccountFor(ctx context.Context, m AccountMail) (*User, error) {
	if m.UserID != 0 {
		return s.ByID(ctx, m.UserID)
	}
	return s.ByEmail(ctx, m.Email)
}
