package users

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
)

// MaxAPIKeys is how many unrevoked API keys one user may hold: plenty
// for a key per script, machine and colleague's tool, while a runaway
// script (or a stolen session) cannot fill the table with credentials
// nobody will ever revoke. Revoked keys do not count.
const MaxAPIKeys = 20

// MaxAPIKeyNameLen is the longest API key name, in characters (runes),
// that the api_keys.name column holds.
const MaxAPIKeyNameLen = 100

// A raw API key is apiKeyTag followed by tokenBytes random bytes in
// unpadded base64url: rawAPIKeyLen characters. The tag makes keys easy to
// recognise, for people and for secret scanners.
const (
	apiKeyTag    = "lk_"
	rawAPIKeyLen = len(apiKeyTag) + rawTokenLen
)

// APIKeyPrefixLen is how many leading characters of a raw API key are
// stored in clear, as APIKey.Prefix: the tag and 7 random characters,
// enough to recognise a key, far too few to guess the rest.
const APIKeyPrefixLen = 10

// lastUsedPrecision is how stale APIKey.LastUsedAt may be: a key used
// again within it is not written to, so a busy client does not turn
// every API call into a database write.
const lastUsedPrecision = time.Minute

// APIKey is a bearer credential for the JSON API, owned by one user. The
// schema lives in migrations/*/00004_api_keys.sql. Only the SHA-256 of
// the key is stored; the raw key exists once, in CreateAPIKey's result.
type APIKey struct {
	ID     uint
	UserID uint
	// Name is the owner's label for the key, e.g. "deploy script".
	Name string
	// Prefix is the key's first APIKeyPrefixLen characters, shown in
	// lists so the owner can tell keys apart; it is not secret.
	Prefix    string
	CreatedAt time.Time
	// LastUsedAt is when the key last authenticated a request, to within
	// a minute; nil if it never has.
	LastUsedAt *time.Time
	// RevokedAt is when the key was revoked; nil while it works.
	RevokedAt *time.Time
}

// apiKeyRow is a row of api_keys: an APIKey and the hash of its key,
// which never leaves this package.
type apiKeyRow struct {
	APIKey
	KeyHash string
}

func (apiKeyRow) TableName() string { return "api_keys" }

// APIKeyRole is the role that may hold API keys and call the API (admins
// hold every role). CreateAPIKey and AuthenticateAPIKey enforce it, so a
// user who loses the role loses the API at their next call.
const APIKeyRole = RoleDev

// MayUseAPIKeys reports whether u may hold API keys and call the API.
func (u *User) MayUseAPIKeys() bool { return u.HasRole(APIKeyRole) }

// CreateAPIKey makes a new API key for user userID, labelled name
// (trimmed; at most MaxAPIKeyNameLen characters, may be empty). It returns
// the key's record and the raw key, "lk_" and 43 URL-safe characters,
// which is never stored and cannot be recovered: show it to the user once.
// A user holding MaxAPIKeys unrevoked keys already gets ErrTooManyAPIKeys.
func (s *Service) CreateAPIKey(ctx context.Context, userID uint, name string) (*APIKey, string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > MaxAPIKeyNameLen || !db.PlainText(name) {
		return nil, "", fmt.Errorf("create API key for user %d: %w", userID, ErrInvalidAPIKeyName)
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, "", fmt.Errorf("create API key for user %d: %w", userID, err)
	}
	raw := apiKeyTag + base64.RawURLEncoding.EncodeToString(b)
	row := &apiKeyRow{
		APIKey:  APIKey{UserID: userID, Name: name, Prefix: raw[:APIKeyPrefixLen], CreatedAt: db.Now()},
		KeyHash: hashToken(raw),
	}
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		// The user's creations take turns, so that two at once cannot
		// both see room for one more key.
		if err := lockUser(tx, userID); err != nil {
			return err
		}
		u, err := s.byID(tx, userID)
		if err != nil {
			return err
		}
		if !u.MayUseAPIKeys() {
			return ErrAPIKeysNotAllowed
		}
		var live int64
		if err := tx.Model(&apiKeyRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).Count(&live).Error; err != nil {
			return err
		}
		if live >= MaxAPIKeys {
			return ErrTooManyAPIKeys
		}
		if err := tx.Create(row).Error; err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(userID), Kind: seclog.APIKeyCreated, Detail: keyDetail(&row.APIKey)})
	})
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("create API key for user %d: %w", userID, err)
	}
	return &row.APIKey, raw, nil
}

// ListAPIKeys returns the unrevoked API keys of user userID, newest first.
func (s *Service) ListAPIKeys(ctx context.Context, userID uint) ([]APIKey, error) {
	var rows []apiKeyRow
	err := s.db.WithContext(ctx).Where("user_id = ? AND revoked_at IS NULL", userID).
		Order("created_at DESC, id DESC").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list API keys of user %d: %w", userID, err)
	}
	keys := make([]APIKey, len(rows))
	for i, r := range rows {
		keys[i] = r.APIKey
	}
	return keys, nil
}

// CountAPIKeys counts the unrevoked API keys of the user userID (ByID
// counts them too, in the user's own query).
func (s *Service) CountAPIKeys(ctx context.Context, userID uint) (int, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&apiKeyRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count API keys: %w", err)
	}
	return int(n), nil
}

// RevokeAPIKey stops key keyID of user userID from working. A key that
// is not the user's, or is revoked already, fails with ErrAPIKeyNotFound
// and is left as it was. The row is kept, with its revocation time.
func (s *Service) RevokeAPIKey(ctx context.Context, userID, keyID uint) error {
	// The owner is part of the condition: a user can name any id, but
	// only their own keys match.
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&apiKeyRow{}).
			Where("id = ? AND user_id = ? AND revoked_at IS NULL", keyID, userID).
			Update("revoked_at", db.Now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrAPIKeyNotFound
		}
		var k APIKey
		if err := tx.Model(&apiKeyRow{}).Select("id", "name", "prefix").Where("id = ?", keyID).Take(&k).Error; err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(userID), Kind: seclog.APIKeyDeleted, Detail: keyDetail(&k)})
	})
	if err != nil {
		return fmt.Errorf("revoke API key %d of user %d: %w", keyID, userID, err)
	}
	return nil
}

// keyDetail names key k in a security event: its name and the prefix its
// owner sees in the list, never more of the key.
func keyDetail(k *APIKey) string {
	name := k.Name
	if name == "" {
		name = "(no name)"
	}
	return fmt.Sprintf("%q, %s…", name, k.Prefix)
}

// AuthenticateAPIKey returns the active user, with roles loaded, whose
// unrevoked API key raw is, and records that the key was used. Anything
// else fails with ErrInvalidAPIKey; a malformed key does so without a
// database query.
func (s *Service) AuthenticateAPIKey(ctx context.Context, raw string) (*User, error) {
	if !wellFormedAPIKey(raw) {
		return nil, fmt.Errorf("authenticate API key: %w", ErrInvalidAPIKey)
	}
	// The key, its user and the user's roles, in one query.
	var keyID uint
	var revokedAt, lastUsedAt *time.Time
	rows, err := s.apiKeyUser.Query(ctx, hashToken(raw))
	u, err := scanUser(rows, err, &keyID, &revokedAt, &lastUsedAt)
	if errors.Is(err, ErrNotFound) { // unknown, or its user deleted (the cascade removes the keys)
		return nil, fmt.Errorf("authenticate API key: %w", ErrInvalidAPIKey)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate API key: %w", err)
	}
	if revokedAt != nil {
		return nil, fmt.Errorf("authenticate API key %d: revoked: %w", keyID, ErrInvalidAPIKey)
	}
	if !u.Active {
		return nil, fmt.Errorf("authenticate API key %d: user %d is inactive: %w", keyID, u.ID, ErrInvalidAPIKey)
	}
	if !u.MayUseAPIKeys() {
		return nil, fmt.Errorf("authenticate API key %d: user %d: %w", keyID, u.ID, ErrAPIKeysNotAllowed)
	}
	now := db.Now()
	if lastUsedAt == nil || now.Sub(*lastUsedAt) >= lastUsedPrecision {
		// Conditional, so concurrent calls write once rather than queue
		// for the row lock.
		err := s.db.WithContext(ctx).Model(&apiKeyRow{}).
			Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", keyID, now.Add(-lastUsedPrecision)).
			Update("last_used_at", now).Error
		if err != nil {
			return nil, fmt.Errorf("authenticate API key %d: record use: %w", keyID, err)
		}
	}
	return u, nil
}

// wellFormedAPIKey reports whether raw looks like a key CreateAPIKey
// made, so junk is rejected before it reaches the database.
func wellFormedAPIKey(raw string) bool {
	return len(raw) == rawAPIKeyLen && strings.HasPrefix(raw, apiKeyTag) && wellFormed(raw[len(apiKeyTag):])
}
