// Passkeys: WebAuthn credentials (github.com/go-webauthn/webauthn), table
// passkeys, and the pending ceremonies of table webauthn_challenges
// (migration 00013).
//
// The ceremonies themselves (options out, the browser's answer checked)
// run in the web layer with the library; this file keeps what they need
// and leave: the account's credentials as the library's webauthn.User,
// the passkeys added, used and removed, and the challenges, each used
// once.
//
// The user handle a passkey carries (WebAuthn's user.id) is the account's
// ID as 8 bytes, big-endian (UserHandle): stable, never shown, and
// enough to find the account of a discoverable credential. It says
// nothing a signed-in page does not (the ID is in admin URLs), and it
// never changes, so a passkey outlives a change of address.

package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
)

// Passkey is a row of passkeys: one WebAuthn credential of a user.
type Passkey struct {
	ID     uint
	UserID uint
	// Name is what the user called it ("Laptop", "Phone").
	Name string
	// CredentialID is the credential's ID, base64url without padding.
	CredentialID string
	// Credential is the go-webauthn credential as JSON.
	Credential string
	SignCount  int64
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// The purposes of a pending ceremony (webauthn_challenges.purpose).
const (
	ChallengeRegister     = "register"
	ChallengeSignIn       = "sign-in"
	ChallengeSecondFactor = "second-factor"
)

// MaxPasskeyName is the longest name a passkey may have (the column's
// size), in characters.
const MaxPasskeyName = 100

// DefaultPasskeyName is the name of a passkey its user did not name.
const DefaultPasskeyName = "Passkey"

// Passkey errors.
var (
	// ErrPasskeyNotFound: the user has no passkey with that ID.
	ErrPasskeyNotFound = errors.New("no such passkey")
	// ErrPasskeyExists: the credential is already registered (to this
	// account or another).
	ErrPasskeyExists = errors.New("this passkey is already registered")
	// ErrInvalidPasskeyName: the name is longer than MaxPasskeyName or
	// holds characters that are not plain text.
	ErrInvalidPasskeyName = errors.New("invalid passkey name")
	// ErrNoChallenge: the ceremony is unknown, expired, for another
	// purpose, or was used already.
	ErrNoChallenge = errors.New("no such passkey ceremony, or it expired or was used")
	// ErrPasskeyCloned: the credential's signature counter did not go
	// up: a copy of the authenticator may be in use.
	ErrPasskeyCloned = errors.New("the passkey's signature counter went backwards")
)

// webauthnChallenge is a row of webauthn_challenges.
type webauthnChallenge struct {
	ID        string `gorm:"primaryKey"`
	UserID    *uint
	Purpose   string
	Data      string
	ExpiresAt time.Time
}

func (webauthnChallenge) TableName() string { return "webauthn_challenges" }

// UserHandle is the WebAuthn user handle of account id: its ID as 8
// bytes, big-endian.
func UserHandle(id uint) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(id))
}

// userIDOfHandle is the account ID of a user handle UserHandle made, or 0.
func userIDOfHandle(h []byte) uint {
	if len(h) != 8 {
		return 0
	}
	return uint(binary.BigEndian.Uint64(h))
}

// WebAuthnUser is an account and its passkeys as the WebAuthn library
// sees them (webauthn.User).
type WebAuthnUser struct {
	*User
	Passkeys    []Passkey
	credentials []webauthn.Credential
}

// WebAuthnID is the user handle (UserHandle).
func (w *WebAuthnUser) WebAuthnID() []byte { return UserHandle(w.ID) }

// WebAuthnName is the name the authenticator shows: the email address.
func (w *WebAuthnUser) WebAuthnName() string { return w.Email }

// WebAuthnDisplayName is the display name, else the address.
func (w *WebAuthnUser) WebAuthnDisplayName() string {
	if w.Name != "" {
		return w.Name
	}
	return w.Email
}

// WebAuthnCredentials are the account's credentials.
func (w *WebAuthnUser) WebAuthnCredentials() []webauthn.Credential { return w.credentials }

// Passkeys lists user id's passkeys, oldest first.
func (s *Service) Passkeys(ctx context.Context, id uint) ([]Passkey, error) {
	var list []Passkey
	if err := s.db.WithContext(ctx).Where("user_id = ?", id).Order("created_at, id").Find(&list).Error; err != nil {
		return nil, fmt.Errorf("passkeys of user %d: %w", id, err)
	}
	return list, nil
}

// WebAuthnUser returns u with its passkeys, for a ceremony. The signature
// counter of each is the one stored beside it (sign_count), which
// UsePasskey keeps.
func (s *Service) WebAuthnUser(ctx context.Context, u *User) (*WebAuthnUser, error) {
	list, err := s.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	w := &WebAuthnUser{User: u, Passkeys: list}
	for _, p := range list {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(p.Credential), &c); err != nil {
			return nil, fmt.Errorf("passkey %d of user %d: %w", p.ID, u.ID, err)
		}
		c.Authenticator.SignCount = uint32(p.SignCount)
		c.Authenticator.CloneWarning = false
		w.credentials = append(w.credentials, c)
	}
	return w, nil
}

// PasskeyOwner returns the account whose user handle is handle, when it
// holds the credential rawID: for a sign-in with a discoverable passkey.
// Anything else is ErrPasskeyNotFound.
func (s *Service) PasskeyOwner(ctx context.Context, rawID, handle []byte) (*WebAuthnUser, error) {
	id := userIDOfHandle(handle)
	if id == 0 {
		return nil, ErrPasskeyNotFound
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&Passkey{}).
		Where("user_id = ? AND credential_id = ?", id, encodeCredentialID(rawID)).Count(&n).Error; err != nil {
		return nil, fmt.Errorf("passkey owner: %w", err)
	}
	if n == 0 {
		return nil, ErrPasskeyNotFound
	}
	u, err := s.ByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrPasskeyNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.WebAuthnUser(ctx, u)
}

// encodeCredentialID is the stored form of a credential ID.
func encodeCredentialID(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// CleanPasskeyName returns name trimmed, DefaultPasskeyName when empty,
// or ErrInvalidPasskeyName.
func CleanPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return DefaultPasskeyName, nil
	}
	if len([]rune(name)) > MaxPasskeyName || !db.PlainText(name) || strings.ContainsAny(name, "\r\n\t") {
		return "", ErrInvalidPasskeyName
	}
	return name, nil
}

// AddPasskey stores the credential c, which a registration ceremony of
// user id checked, as a passkey named name, and records it in the
// security log.
func (s *Service) AddPasskey(ctx context.Context, id uint, name string, c *webauthn.Credential) (*Passkey, error) {
	name, err := CleanPasskeyName(name)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("add passkey: %w", err)
	}
	p := &Passkey{UserID: id, Name: name, CredentialID: encodeCredentialID(c.ID), Credential: string(body),
		SignCount: int64(c.Authenticator.SignCount), CreatedAt: db.Now()}
	err = s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Passkey{}).Where("credential_id = ?", p.CredentialID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrPasskeyExists
		}
		if err := tx.Create(p).Error; err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.PasskeyAdded, Detail: seclog.Clip(name, 255)})
	})
	if err != nil {
		return nil, fmt.Errorf("add passkey for user %d: %w", id, err)
	}
	return p, nil
}

// PasskeyOf returns user id's passkey pid, or ErrPasskeyNotFound (also
// when it is another user's).
func (s *Service) PasskeyOf(ctx context.Context, id, pid uint) (*Passkey, error) {
	var p Passkey
	err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", pid, id).Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrPasskeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("passkey %d of user %d: %w", pid, id, err)
	}
	return &p, nil
}

// RemovePasskey deletes user id's passkey pid. The web layer has checked
// the password (or a recent sign-in); when the account has an
// authenticator app, code must be a current code from it or an unused
// recovery code (ErrWrongCode otherwise, recorded as a failed second
// factor), so a stolen session and password alone cannot remove it.
func (s *Service) RemovePasskey(ctx context.Context, id, pid uint, code string) error {
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		var p Passkey
		if err := tx.Where("id = ? AND user_id = ?", pid, id).Take(&p).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrPasskeyNotFound
		} else if err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&totpRow{}).Where("user_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			if _, err := s.checkCode(tx, id, code); err != nil {
				return err
			}
		}
		if err := tx.Delete(&Passkey{}, p.ID).Error; err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.PasskeyRemoved, Detail: seclog.Clip(p.Name, 255)})
	})
	if errors.Is(err, ErrWrongCode) {
		if rerr := s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.TwoFactorFailed, Detail: "removing a passkey"}); rerr != nil {
			return rerr
		}
		return err
	}
	if err != nil {
		return fmt.Errorf("remove passkey %d of user %d: %w", pid, id, err)
	}
	return nil
}

// HasTOTP reports whether user id has an authenticator app.
func (s *Service) HasTOTP(ctx context.Context, id uint) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&totpRow{}).Where("user_id = ?", id).Count(&n).Error
	return n > 0, err
}

// UsePasskey stores what a sign-in with user id's credential c left: its
// signature counter, flags and when it was used. The counter must go up
// (or stay 0, for authenticators that keep none): a counter that did not
// is ErrPasskeyCloned, also when two sign-ins race with one counter.
func (s *Service) UsePasskey(ctx context.Context, id uint, c *webauthn.Credential) error {
	if c.Authenticator.CloneWarning {
		return ErrPasskeyCloned
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("use passkey: %w", err)
	}
	count := int64(c.Authenticator.SignCount)
	res := s.db.WithContext(ctx).Model(&Passkey{}).
		Where("user_id = ? AND credential_id = ? AND (sign_count < ? OR ? = 0)", id, encodeCredentialID(c.ID), count, count).
		Updates(map[string]any{"sign_count": count, "credential": string(body), "last_used_at": db.Now()})
	if res.Error != nil {
		return fmt.Errorf("use passkey of user %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrPasskeyCloned
	}
	return nil
}

// RecordPasskeyRefused records that a passkey of user id was refused
// (detail says why: a cloned authenticator).
func (s *Service) RecordPasskeyRefused(ctx context.Context, id uint, method, detail string) error {
	return s.Events.Record(ctx, nil, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.PasskeyRefused, Method: method, Detail: detail})
}

// SaveChallenge stores the pending ceremony data (the library's
// SessionData, as JSON) for purpose, of user id (0: not known yet, a
// sign-in with a discoverable passkey), until expires. It returns the
// ceremony's random ID, which the browser carries in a signed cookie.
func (s *Service) SaveChallenge(ctx context.Context, purpose string, id uint, data *webauthn.SessionData, expires time.Time) (string, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("save passkey challenge: %w", err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	row := webauthnChallenge{ID: hex.EncodeToString(b), Purpose: purpose, Data: string(body), ExpiresAt: expires.UTC().Truncate(time.Microsecond)}
	if id != 0 {
		row.UserID = &id
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", fmt.Errorf("save passkey challenge: %w", err)
	}
	return row.ID, nil
}

// TakeChallenge uses up the ceremony cid of purpose: it returns its user
// (0 when none) and data, and deletes it. A ceremony that is unknown,
// expired at now, for another purpose or already taken (by this request
// or a concurrent one: the delete must remove the row) is ErrNoChallenge.
func (s *Service) TakeChallenge(ctx context.Context, cid, purpose string, now time.Time) (uint, *webauthn.SessionData, error) {
	g := s.db.WithContext(ctx)
	var row webauthnChallenge
	if err := g.Where("id = ?", cid).Take(&row).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil, ErrNoChallenge
	} else if err != nil {
		return 0, nil, fmt.Errorf("take passkey challenge: %w", err)
	}
	res := g.Where("id = ? AND expires_at > ?", cid, now.UTC()).Delete(&webauthnChallenge{})
	if res.Error != nil {
		return 0, nil, fmt.Errorf("take passkey challenge: %w", res.Error)
	}
	if res.RowsAffected != 1 || row.Purpose != purpose {
		return 0, nil, ErrNoChallenge
	}
	var data webauthn.SessionData
	if err := json.Unmarshal([]byte(row.Data), &data); err != nil {
		return 0, nil, fmt.Errorf("take passkey challenge: %w", err)
	}
	var id uint
	if row.UserID != nil {
		id = *row.UserID
	}
	return id, &data, nil
}

// PurgeExpiredChallenges deletes the ceremonies that expired before now
// (the hourly sessions:purge task) and returns how many.
func (s *Service) PurgeExpiredChallenges(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("expires_at <= ?", now.UTC()).Delete(&webauthnChallenge{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge passkey challenges: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// CredentialDescriptors are the descriptors of w's credentials: the
// credentials a registration excludes and a second step allows.
func (w *WebAuthnUser) CredentialDescriptors() []protocol.CredentialDescriptor {
	return webauthn.Credentials(w.credentials).CredentialDescriptors()
}
