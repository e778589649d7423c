package seclog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// kindLabels are the kinds in the order a filter offers them, each with
// the words people read for it.
var kindLabels = []struct {
	kind  Kind
	label string
}{
	{SignIn, "Signed in"},
	{SignInFailed, "Failed sign-in"},
	{SignOut, "Signed out"},
	{PasswordChanged, "Password changed"},
	{PasswordReset, "Password reset"},
	{EmailConfirmed, "Email address confirmed"},
	{EmailChanged, "Email address changed"},
	{IdentityLinked, "Sign-in provider linked"},
	{IdentityUnlinked, "Sign-in provider unlinked"},
	{APIKeyCreated, "API key created"},
	{APIKeyDeleted, "API key deleted"},
	{RolesChanged, "Roles changed"},
	{AccountCreated, "Account created"},
	{AccountDeactivated, "Account deactivated"},
	{AccountActivated, "Account activated"},
	{AccountDeleted, "Account deleted"},
	{SessionsEnded, "Signed out everywhere"},
	{SessionEnded, "Session signed out"},
	{LimitHit, "Too many attempts"},
	{TwoFactorEnabled, "Authenticator app turned on"},
	{TwoFactorDisabled, "Authenticator app turned off"},
	{TwoFactorReset, "Second factors reset by an admin"},
	{TwoFactorFailed, "Wrong second-step code"},
	{RecoveryCodesRegenerated, "New recovery codes"},
	{RecoveryCodeUsed, "Recovery code used"},
	{PasskeyAdded, "Passkey added"},
	{PasskeyRemoved, "Passkey removed"},
	{PasskeyRefused, "Passkey refused"},
}

// Kinds lists every kind, in the order a filter offers them.
func Kinds() []Kind {
	out := make([]Kind, len(kindLabels))
	for i, k := range kindLabels {
		out[i] = k.kind
	}
	return out
}

// Label is what people read for k ("Signed in", "Failed sign-in"…); an
// unknown kind reads as itself.
func (k Kind) Label() string {
	for _, l := range kindLabels {
		if l.kind == k {
			return l.label
		}
	}
	return string(k)
}

// Known reports whether k is one of Kinds.
func (k Kind) Known() bool {
	for _, l := range kindLabels {
		if l.kind == k {
			return true
		}
	}
	return false
}

// Entry is an event as the pages show it: with the addresses of its user
// and actor ("" when none, or deleted since).
type Entry struct {
	Event
	UserEmail  string
	ActorEmail string
}

// entries is the query of events with their user's and actor's addresses.
func (l *Log) entries(ctx context.Context) *gorm.DB {
	return l.db.WithContext(ctx).Table("security_events").
		Select("security_events.*, COALESCE(u.email, '') AS user_email, COALESCE(a.email, '') AS actor_email").
		Joins("LEFT JOIN users u ON u.id = security_events.user_id").
		Joins("LEFT JOIN users a ON a.id = security_events.actor_id")
}

// newestFirst orders events newest first; events of one instant by id.
const newestFirst = "security_events.created_at DESC, security_events.id DESC"

// ForUser returns the newest limit events of user userID, newest first.
func (l *Log) ForUser(ctx context.Context, userID uint, limit int) ([]Entry, error) {
	if l == nil {
		return nil, nil
	}
	var out []Entry
	err := l.entries(ctx).Where("security_events.user_id = ?", userID).Order(newestFirst).Limit(limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("read the security events of user %d: %w", userID, err)
	}
	return out, nil
}

// Filter picks the events List returns; its zero value picks every one.
type Filter struct {
	// Kind, when set, keeps the events of that kind.
	Kind Kind
	// UserID, when not nil, keeps the events about that account.
	UserID *uint
	// Since and Until, when not zero, keep the events from Since and
	// before Until.
	Since, Until time.Time
}

// MaxPerPage is the longest page List returns.
const MaxPerPage = 500

// ErrBadFilter is a List request it does not take: an unknown kind, or a
// page length out of range.
var ErrBadFilter = errors.New("bad security event filter")

// Page is one page of events, newest first, with how many match and the
// page's number among how many (at least 1, even for no events).
type Page struct {
	Entries     []Entry
	Total       int64
	Page, Pages int
}

// List returns page (from 1; past the end is the last page) of perPage
// events f picks, newest first, and how many it picks in all.
func (l *Log) List(ctx context.Context, f Filter, page, perPage int) (Page, error) {
	p := Page{Page: 1, Pages: 1}
	if l == nil {
		return p, nil
	}
	if (f.Kind != "" && !f.Kind.Known()) || perPage < 1 || perPage > MaxPerPage {
		return p, fmt.Errorf("list security events: %w", ErrBadFilter)
	}
	picked := func() *gorm.DB {
		g := l.entries(ctx)
		if f.Kind != "" {
			g = g.Where("security_events.kind = ?", string(f.Kind))
		}
		if f.UserID != nil {
			g = g.Where("security_events.user_id = ?", *f.UserID)
		}
		if !f.Since.IsZero() {
			g = g.Where("security_events.created_at >= ?", f.Since.UTC())
		}
		if !f.Until.IsZero() {
			g = g.Where("security_events.created_at < ?", f.Until.UTC())
		}
		return g
	}
	if err := picked().Count(&p.Total).Error; err != nil {
		return p, fmt.Errorf("count security events: %w", err)
	}
	p.Pages = max(1, int((p.Total+int64(perPage)-1)/int64(perPage)))
	p.Page = min(max(page, 1), p.Pages)
	if err := picked().Order(newestFirst).Offset((p.Page - 1) * perPage).Limit(perPage).Scan(&p.Entries).Error; err != nil {
		return p, fmt.Errorf("list security events: %w", err)
	}
	return p, nil
}

// Purge deletes the events recorded before olderThan and says how many
// it deleted (the security-log:purge task runs it with
// SECURITY_LOG_RETENTION).
func (l *Log) Purge(ctx context.Context, olderThan time.Time) (int64, error) {
	if l == nil {
		return 0, nil
	}
	res := l.db.WithContext(ctx).Where("created_at < ?", olderThan.UTC()).Delete(&Event{})
	if res.Error != nil {
		return 0, fmt.Errorf("purge security events: %w", res.Error)
	}
	return res.RowsAffected, nil
}
