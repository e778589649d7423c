package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
)

// Ender is a Manager whose sessions live in a store under a token (SCS
// on the database, Redis or memory store), so that one session can be
// looked up and ended from a request of another: the account's security
// page ends any one of the user's sessions this way. The cookie Manager
// is not one: its sessions live only in the browsers' cookies, and only
// a change of the user's session key ends them.
type Ender interface {
	Manager
	// Token returns the store token of the session loaded into ctx (""
	// when it has none yet). After RenewToken it is the new token.
	Token(ctx context.Context) string
	// Holds reports whether the store holds a live session under token.
	Holds(ctx context.Context, token string) (bool, error)
	// End deletes the session stored under token: the browser holding it
	// is signed out at its next request.
	End(ctx context.Context, token string) error
}

var _ Ender = (*SCS)(nil)

// Token implements Ender.
func (s *SCS) Token(ctx context.Context) string { return s.sm.Token(ctx) }

// Holds implements Ender.
func (s *SCS) Holds(ctx context.Context, token string) (bool, error) {
	_, found, err := s.store.FindCtx(ctx, token)
	if err != nil {
		return false, fmt.Errorf("find session: %w", err)
	}
	return found, nil
}

// End implements Ender.
func (s *SCS) End(ctx context.Context, token string) error {
	if err := s.store.DeleteCtx(ctx, token); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// Registry is the index of signed-in sessions by user that no session
// store keeps: table user_sessions, one row per session a user signed in
// with (migration 00012). The account's security page lists a user's
// rows and ends any one of them.
//
// A row names its session by a random ID (SID) that the session carries
// too, and holds the session's store token encrypted with a key derived
// from SECRET_KEY (keyring.SessionRegistry): ending one session deletes
// it from the store by that token, and a reader of the database alone
// cannot use the tokens to take over sessions kept in Redis.
//
// Rows are written when a session starts (sign-in), deleted when it ends
// (sign-out, a new token), and purged once expired, idle for longer than
// the idle timeout, or ended by a change of the user's session key (a
// password change, "sign out everywhere"): a row whose session key is no
// longer the user's is never listed, so every way of ending all of a
// user's sessions, present or future, empties the list without touching
// this table. LastSeenAt is brought forward at most every TouchEvery
// by the web layer, not on every request.
//
// With the memory store the registry works within the one process that
// store is for; the rows of sessions a restart lost are never listed
// (List checks the store holds each one) and are purged at their expiry.
type Registry struct {
	// TouchEvery is how stale a session's last-seen time may get: a
	// signed-in request brings it forward only once it is older
	// (TouchInterval unless a test changes it before use).
	TouchEvery time.Duration

	db     *db.DB
	sealer *keyring.Sealer
	idle   time.Duration
}

// TouchInterval is how stale a session's last-seen time in the registry
// may get by default.
const TouchInterval = 5 * time.Minute

// ErrNoSession is returned for a session the registry does not list for
// the user.
var ErrNoSession = errors.New("no such session")

// SignedIn is one row of user_sessions.
type SignedIn struct {
	ID     uint
	UserID uint
	// SID is the session's ID in the registry, also kept in the session.
	SID string `gorm:"column:sid"`
	// SessionKey is the user's session key when the session started.
	SessionKey string
	// Token is the session's store token, encrypted (never shown).
	Token      []byte
	UserAgent  string
	Address    string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// TableName implements gorm's tabler.
func (SignedIn) TableName() string { return "user_sessions" }

// NewRegistry returns the registry in d's user_sessions table, its
// tokens encrypted with keys, its rows idle for longer than idle (0:
// never) no longer listed.
func NewRegistry(d *db.DB, keys *keyring.Keyring, idle time.Duration) (*Registry, error) {
	r := &Registry{TouchEvery: TouchInterval, db: d, idle: idle, sealer: keys.Sealer(keyring.SessionRegistry)}
	return r, nil
}

// NewSID returns a new random session ID for the registry.
func NewSID() string {
	b := make([]byte, sidLength/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Add records a session that has just started: e's UserID, SessionKey,
// SID, UserAgent, Address and ExpiresAt, and its store token.
func (r *Registry) Add(ctx context.Context, e SignedIn, token string) error {
	now := time.Now().UTC()
	e.ID = 0
	e.Token = r.seal(e.UserID, e.SID, token)
	e.UserAgent, e.Address = seclog.Clip(e.UserAgent, 255), seclog.Clip(e.Address, 64)
	e.CreatedAt, e.LastSeenAt, e.ExpiresAt = now, now, e.ExpiresAt.UTC()
	if err := r.db.Gorm.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("record session of user %d: %w", e.UserID, err)
	}
	return nil
}

// Remove deletes the row of the session sid (no error when there is
// none).
func (r *Registry) Remove(ctx context.Context, sid string) error {
	if sid == "" {
		return nil
	}
	if err := r.db.Gorm.WithContext(ctx).Where("sid = ?", sid).Delete(&SignedIn{}).Error; err != nil {
		return fmt.Errorf("forget session: %w", err)
	}
	return nil
}

// Touch brings the last-seen time of user's session sid forward to now,
// and reports whether the registry has its row.
func (r *Registry) Touch(ctx context.Context, userID uint, sid string) (bool, error) {
	res := r.db.Gorm.WithContext(ctx).Model(&SignedIn{}).Where("sid = ? AND user_id = ?", sid, userID).
		Update("last_seen_at", time.Now().UTC())
	if res.Error != nil {
		return false, fmt.Errorf("touch session of user %d: %w", userID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// Retoken records the new store token of user's session sid (renewed
// without a new sign-in), so that ending it still ends the session.
func (r *Registry) Retoken(ctx context.Context, userID uint, sid, token string) error {
	err := r.db.Gorm.WithContext(ctx).Model(&SignedIn{}).Where("sid = ? AND user_id = ?", sid, userID).
		Update("token", r.seal(userID, sid, token)).Error
	if err != nil {
		return fmt.Errorf("record renewed session token of user %d: %w", userID, err)
	}
	return nil
}

// live selects the rows of user's sessions that may still be live: made
// with the user's current session key, not expired, not idle too long.
func (r *Registry) live(ctx context.Context, userID uint, sessionKey string) *gorm.DB {
	now := time.Now().UTC()
	q := r.db.Gorm.WithContext(ctx).Where("user_id = ? AND session_key = ? AND expires_at > ?", userID, sessionKey, now)
	if r.idle > 0 {
		q = q.Where("last_seen_at > ?", now.Add(-r.idle-r.TouchEvery))
	}
	return q
}

// List returns the rows of user's sessions made with their current
// session key that have not expired, most recently seen first. The
// caller checks each is still in the store (Ender.Holds).
func (r *Registry) List(ctx context.Context, userID uint, sessionKey string) ([]SignedIn, error) {
	var out []SignedIn
	if err := r.live(ctx, userID, sessionKey).Order("last_seen_at DESC, id DESC").Limit(maxListed).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// maxListed bounds the list (a script signing in in a loop makes a
// session each time); the oldest seen are left off.
const maxListed = 100

// Find returns user's live session sid, or ErrNoSession: a session of
// another user is not found either.
func (r *Registry) Find(ctx context.Context, userID uint, sessionKey, sid string) (SignedIn, error) {
	var e SignedIn
	err := r.live(ctx, userID, sessionKey).Where("sid = ?", sid).Take(&e).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return SignedIn{}, ErrNoSession
	case err != nil:
		return SignedIn{}, fmt.Errorf("find session of user %d: %w", userID, err)
	}
	return e, nil
}

// TokenOf returns e's store token, decrypted; ErrNoSession when no key of
// this deployment opens it (SECRET_KEY changed beyond its fallbacks).
func (r *Registry) TokenOf(e SignedIn) (string, error) {
	b, _, err := r.sealer.Open(e.Token, additional(e.UserID, e.SID))
	if err != nil {
		return "", ErrNoSession
	}
	return string(b), nil
}

// seal encrypts token with the current key, bound to the row's user and
// SID: a token moved to another row does not open.
func (r *Registry) seal(userID uint, sid, token string) []byte {
	return r.sealer.Seal([]byte(token), additional(userID, sid))
}

func additional(userID uint, sid string) []byte {
	return []byte("user_sessions\x00" + strconv.FormatUint(uint64(userID), 10) + "\x00" + sid)
}

// PurgeEnded deletes the rows of sessions that are over: expired, idle
// for longer than the idle timeout, or made with a session key that is no
// longer their user's. It returns how many it deleted.
func (r *Registry) PurgeEnded(ctx context.Context) (int64, error) {
	now := time.Now().UTC()
	q := r.db.Gorm.WithContext(ctx).Where("expires_at <= ?", now)
	if r.idle > 0 {
		q = q.Or("last_seen_at < ?", now.Add(-r.idle-r.TouchEvery))
	}
	res := q.Or("NOT EXISTS (SELECT 1 FROM users WHERE users.id = user_sessions.user_id AND users.session_key = user_sessions.session_key)").
		Delete(&SignedIn{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge ended sessions: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// NewSID's IDs: 32 lower-case hex digits.
const sidLength = 32

// IsSID reports whether s has the form of a session ID NewSID makes (a
// path naming something else is refused before any query).
func IsSID(s string) bool {
	if len(s) != sidLength {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
