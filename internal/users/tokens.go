package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
)

// TokenPurpose says what a single-use account token is for; a token
// works only for the purpose it was issued for.
type TokenPurpose string

// The purposes of account tokens, as stored in user_tokens.purpose.
const (
	// PurposeResetPassword: a password-reset link (ResetPassword).
	PurposeResetPassword TokenPurpose = "reset-password"
	// PurposeConfirmEmail: an email-confirmation link (ConfirmEmail).
	PurposeConfirmEmail TokenPurpose = "confirm-email"
)

// tokenBytes is how much randomness a token carries; its raw form is
// those bytes in unpadded base64url, rawTokenLen characters long.
const (
	tokenBytes  = 32
	rawTokenLen = 43
)

// userToken is a row of user_tokens (migration 00003_user_tokens). Only
// the hash of the token is stored: a leaked table opens no accounts.
type userToken struct {
	ID        uint
	UserID    uint
	Purpose   TokenPurpose
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

func (userToken) TableName() string { return "user_tokens" }

// MaxLiveTokens is how many unused links of one purpose work at once for
// a user: asking for a new one does not kill the one before, so nobody
// can keep a user's reset link dead by asking for new ones, but links
// cannot pile up either.
const MaxLiveTokens = 5

// IssueToken makes a single-use token for user userID, valid for ttl, and
// returns it in raw form (43 URL-safe characters) for the link; only its
// SHA-256 is stored. Of the user's unused tokens for the purpose, the
// newest MaxLiveTokens work; using one retires the others.
func (s *Service) IssueToken(ctx context.Context, userID uint, purpose TokenPurpose, ttl time.Duration) (string, error) {
	if purpose != PurposeResetPassword && purpose != PurposeConfirmEmail {
		return "", fmt.Errorf("issue token for user %d: unknown purpose %q", userID, purpose)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("issue %s token for user %d: ttl %s is not positive", purpose, userID, ttl)
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("issue %s token for user %d: %w", purpose, userID, err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	now := db.Now()
	t := &userToken{UserID: userID, Purpose: purpose, TokenHash: hashToken(raw), ExpiresAt: now.Add(ttl), CreatedAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, userID); err != nil {
			return err
		}
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		var keep []uint
		unused := tx.Model(&userToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", userID, purpose)
		if err := unused.Order("id DESC").Limit(MaxLiveTokens).Pluck("id", &keep).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ? AND purpose = ? AND used_at IS NULL AND id NOT IN ?", userID, purpose, keep).
			Delete(&userToken{}).Error
	})
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		err = ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("issue %s token for user %d: %w", purpose, userID, err)
	}
	return raw, nil
}

// PeekToken returns the user, with roles loaded, whose unused, unexpired
// token for purpose raw is, without using it up: a page can check a link
// before showing its form and consume it when the form is sent.
func (s *Service) PeekToken(ctx context.Context, raw string, purpose TokenPurpose) (*User, error) {
	_, u, err := s.checkToken(s.db.WithContext(ctx), raw, purpose, db.Now())
	if err != nil {
		return nil, fmt.Errorf("check %s token: %w", purpose, err)
	}
	return u, nil
}

// consume is what every use of a link does: check the token raw for
// purpose (before anything costly), run prepare with its user (outside
// the transaction: hashing, say), then in one transaction use the token
// up and run also. It returns the user as it was found, with roles
// loaded. Of any number of concurrent uses of one token, exactly one
// succeeds; the others fail with ErrTokenUsed.
func (s *Service) consume(ctx context.Context, raw string, purpose TokenPurpose, prepare func(u *User) error, also func(tx *gorm.DB, u *User, now time.Time) error) (*User, error) {
	g := s.db.WithContext(ctx)
	now := db.Now()
	t, u, err := s.checkToken(g, raw, purpose, now)
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(u); err != nil {
			return nil, err
		}
	}
	err = s.Events.Transaction(ctx, g, func(tx *gorm.DB) error {
		if err := useToken(tx, t, now); err != nil {
			return err
		}
		if also != nil {
			return also(tx, u, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", u.ID, err)
	}
	return u, nil
}

// ResetPassword sets a new password for the user of the password-reset
// token raw and uses the token up, both or neither, ending the user's
// sessions and confirming their address (the link came by mail); the
// user's other reset links stop working. A new password the policy
// refuses (CheckPassword) fails with ErrInvalidPassword and leaves the
// token usable; the token is checked before any hashing, so bad links
// cost no argon2 time. It returns the user, with roles loaded.
func (s *Service) ResetPassword(ctx context.Context, raw, newPassword string) (*User, error) {
	var hash string
	prepare := func(u *User) (err error) {
		if u.Directory() {
			return ErrDirectoryManaged
		}
		if err := s.CheckPassword(newPassword, u.Email); err != nil {
			return err
		}
		hash, err = s.hash(ctx, newPassword)
		return err
	}
	u, err := s.consume(ctx, raw, PurposeResetPassword, prepare, func(tx *gorm.DB, u *User, now time.Time) error {
		if err := tx.Model(&User{}).Where("id = ?", u.ID).
			Updates(map[string]any{"password_hash": hash, "updated_at": now, "session_key": newSessionKey()}).Error; err != nil {
			return err
		}
		err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.PasswordReset, Method: MethodLink,
			Detail: "every other session signed out"})
		if err != nil {
			return err
		}
		// The link came by mail: the address is the user's.
		res := tx.Model(&User{}).Where("id = ? AND email_confirmed_at IS NULL", u.ID).Update("email_confirmed_at", now)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.EmailConfirmed, Method: MethodLink,
			Detail: "by a password-reset link"})
	})
	if err == nil {
		u, err = s.byID(s.db.WithContext(ctx), u.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("reset password: %w", err)
	}
	return u, nil
}

// ConfirmEmail uses up the email-confirmation token raw and records that
// its user's address is confirmed, returning the user with roles loaded.
// Confirming an already confirmed address keeps the first confirmation
// time.
func (s *Service) ConfirmEmail(ctx context.Context, raw string) (*User, error) {
	var confirmedAt time.Time
	u, err := s.consume(ctx, raw, PurposeConfirmEmail, nil, func(tx *gorm.DB, u *User, now time.Time) error {
		confirmedAt = now
		res := tx.Model(&User{}).Where("id = ? AND email_confirmed_at IS NULL", u.ID).
			Updates(map[string]any{"email_confirmed_at": now, "updated_at": now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.EmailConfirmed, Method: MethodLink})
	})
	if err != nil {
		return nil, fmt.Errorf("confirm email: %w", err)
	}
	if u.EmailConfirmedAt == nil {
		u.EmailConfirmedAt, u.UpdatedAt = &confirmedAt, confirmedAt
	}
	return u, nil
}

// checkToken finds the token raw for purpose and its user, and checks
// that the user is active and the token unused and unexpired at now.
func (s *Service) checkToken(g *gorm.DB, raw string, purpose TokenPurpose, now time.Time) (*userToken, *User, error) {
	if !wellFormed(raw) {
		return nil, nil, ErrInvalidToken
	}
	var t userToken
	err := g.Where("token_hash = ? AND purpose = ?", hashToken(raw), purpose).First(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	u, err := s.byID(g, t.UserID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !u.Active:
		return nil, nil, fmt.Errorf("user %d is inactive: %w", u.ID, ErrInvalidToken)
	case t.UsedAt != nil:
		return nil, nil, fmt.Errorf("token of user %d: %w", u.ID, ErrTokenUsed)
	case !now.Before(t.ExpiresAt):
		return nil, nil, fmt.Errorf("token of user %d: %w", u.ID, ErrTokenExpired)
	}
	return &t, u, nil
}

// useToken marks token t used at now, unless something else did first
// (the condition on used_at makes the database pick one winner among
// concurrent consumers), and retires the user's other unused tokens for
// the purpose. Call it inside a transaction.
func useToken(tx *gorm.DB, t *userToken, now time.Time) error {
	if err := lockUser(tx, t.UserID); err != nil {
		return err
	}
	res := tx.Model(&userToken{}).Where("id = ? AND used_at IS NULL", t.ID).Update("used_at", now)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrTokenUsed
	}
	// The link did its job: the user's other links for it retire.
	return tx.Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, t.Purpose).
		Delete(&userToken{}).Error
}

// lockUser makes the transactions that change a user's tokens take their
// turns: each deletes the others' rows, and taking row locks in different
// orders (two links used at once, new links issued at once) deadlocked
// PostgreSQL and MySQL. It must come before the transaction's other
// statements. SQLite needs no lock, its writers being one at a time from
// BEGIN IMMEDIATE on. A user that does not exist is left for the
// statements after it to find.
func lockUser(tx *gorm.DB, userID uint) error {
	if tx.Dialector.Name() == "sqlite" {
		return nil
	}
	// On PostgreSQL, NO KEY UPDATE: the turns are the same, but rows that
	// refer to the user (roles, API keys) can still be added meanwhile.
	strength := "UPDATE"
	if tx.Dialector.Name() == "postgres" {
		strength = "NO KEY UPDATE"
	}
	var ids []uint
	return tx.Model(&User{}).Clauses(clause.Locking{Strength: strength}).Where("id = ?", userID).Pluck("id", &ids).Error
}

// wellFormed reports whether raw looks like a token IssueToken made, so
// junk is rejected before it reaches the database.
func wellFormed(raw string) bool {
	if len(raw) != rawTokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	return err == nil && len(b) == tokenBytes
}

// hashToken is the stored form of a raw token: its SHA-256 in hex.
func hashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}
