// Package seclog is the security log: a record, in the application's
// database (table security_events, migration 00010), of who signed in
// or failed to, where from, and of every change to an account's
// credentials, roles and sessions. Users read their own events on the
// account's security page ("was this you?"); admins read one user's, or
// all of them filtered. Each event is also one structured log line
// ("security event"), for a SIEM, and a count in the metrics by kind.
//
// An event is written in the same transaction as the change it records,
// where there is one (Record takes the caller's transaction), so the two
// are committed together or not at all; a transaction begun with
// Log.Transaction also holds the event's log line and count back until
// it commits. The client's address and user
// agent come from the request's context (WithClient), so the domain
// packages that record events need know nothing about HTTP.
//
// An event never holds a password, token, key or secret: Detail is a
// short text the caller writes for people to read.
package seclog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Kind is what happened.
type Kind string

// The kinds of events. Their names are stable: they are stored, logged
// and counted in the metrics.
const (
	SignIn             Kind = "sign_in"
	SignInFailed       Kind = "sign_in_failed"
	SignOut            Kind = "sign_out"
	PasswordChanged    Kind = "password_changed"
	PasswordReset      Kind = "password_reset"
	EmailConfirmed     Kind = "email_confirmed"
	EmailChanged       Kind = "email_changed"
	IdentityLinked     Kind = "identity_linked"
	IdentityUnlinked   Kind = "identity_unlinked"
	APIKeyCreated      Kind = "api_key_created"
	APIKeyDeleted      Kind = "api_key_deleted"
	RolesChanged       Kind = "roles_changed"
	AccountCreated     Kind = "account_created"
	AccountDeactivated Kind = "account_deactivated"
	AccountActivated   Kind = "account_activated"
	AccountDeleted     Kind = "account_deleted"
	SessionsEnded      Kind = "sessions_ended"
	SessionEnded       Kind = "session_ended"
	LimitHit           Kind = "limit_hit"
	// Second factors (users/mfa.go, passkeys.go).
	TwoFactorEnabled         Kind = "two_factor_enabled"
	TwoFactorDisabled        Kind = "two_factor_disabled"
	TwoFactorReset           Kind = "two_factor_reset"
	TwoFactorFailed          Kind = "two_factor_failed"
	RecoveryCodesRegenerated Kind = "recovery_codes_regenerated"
	RecoveryCodeUsed         Kind = "recovery_code_used"
	PasskeyAdded             Kind = "passkey_added"
	PasskeyRemoved           Kind = "passkey_removed"
	PasskeyRefused           Kind = "passkey_refused"
)

// Event is one row of security_events.
type Event struct {
	ID uint
	// UserID is the account the event is about; nil when no account is
	// known (a failed sign-in for an address no account has) or the
	// account has since been deleted.
	UserID *uint
	// ActorID is who did it when that is not the user: the admin who
	// changed the account. Nil when the user did it themselves.
	ActorID *uint
	Kind    Kind
	// Method is how: "password", "directory", "sso:<provider>", "api",
	// "link" (an emailed link), "admin"… Empty when it does not apply.
	Method string
	// Address and UserAgent are the client's, from the context
	// (WithClient) unless set.
	Address   string
	UserAgent string
	// Detail is a short text for people (at most 255 characters): never a
	// password, token, key or secret.
	Detail    string
	CreatedAt time.Time
}

// TableName is the table of Event.
func (Event) TableName() string { return "security_events" }

// Column widths (migrations/*/00010_security_events.sql).
const (
	maxMethod    = 64
	maxAddress   = 64
	maxUserAgent = 255
	maxDetail    = 255
)

// Client is who sent the request an event happens in.
type Client struct {
	Address   string
	UserAgent string
}

type clientKey struct{}

// WithClient returns a context whose events are recorded as coming from c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientOf returns the client WithClient stored in ctx, or the zero Client.
func ClientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// Log records and reads security events. A nil *Log records nothing
// (tools and tests that have no use for the log).
type Log struct {
	db     *gorm.DB
	logger *slog.Logger
	count  func(kind string)
	now    func() time.Time
}

// New returns the log kept in d, writing a line per event to logger and
// calling count (if not nil) with each event's kind.
func New(d *gorm.DB, logger *slog.Logger, count func(kind string)) *Log {
	return &Log{db: d, logger: logger, count: count, now: time.Now}
}

// Record writes e. With tx not nil it writes inside that transaction (the
// one making the change e records); otherwise on its own. The client's
// address and user agent are taken from ctx unless e has them; long texts
// are cut to their columns' widths. The log line and the count follow
// the write; inside a transaction begun by Transaction, they wait for its
// commit, so that a change rolled back leaves neither row nor line.
func (l *Log) Record(ctx context.Context, tx *gorm.DB, e Event) error {
	if l == nil {
		return nil
	}
	c := ClientOf(ctx)
	if e.Address == "" {
		e.Address = c.Address
	}
	if e.UserAgent == "" {
		e.UserAgent = c.UserAgent
	}
	e.ID = 0
	e.Method = Clip(e.Method, maxMethod)
	e.Address = Clip(e.Address, maxAddress)
	e.UserAgent = Clip(e.UserAgent, maxUserAgent)
	e.Detail = Clip(e.Detail, maxDetail)
	e.CreatedAt = l.now().UTC()
	g := tx
	if g == nil {
		g = l.db
	}
	if err := g.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("record security event %s: %w", e.Kind, err)
	}
	if tx != nil {
		if p, ok := tx.Statement.Context.Value(pendingKey{}).(*pending); ok {
			p.events = append(p.events, e)
			return nil
		}
	}
	l.emit(ctx, e)
	return nil
}

// pending are the events recorded in a transaction begun by Transaction,
// whose lines and counts wait for its commit.
type pending struct{ events []Event }

type pendingKey struct{}

// Transaction runs fn in a transaction of g (as gorm's Transaction) and,
// once it has committed, writes the log lines and counts of the events
// recorded through its tx; when it fails, none. A nil Log just runs it.
func (l *Log) Transaction(ctx context.Context, g *gorm.DB, fn func(tx *gorm.DB) error) error {
	if l == nil {
		return g.WithContext(ctx).Transaction(fn)
	}
	p := &pending{}
	if err := g.WithContext(context.WithValue(ctx, pendingKey{}, p)).Transaction(fn); err != nil {
		return err
	}
	for _, e := range p.events {
		l.emit(ctx, e)
	}
	return nil
}

// emit writes e's log line and counts it.
func (l *Log) emit(ctx context.Context, e Event) {
	attrs := []any{"kind", string(e.Kind), "address", e.Address}
	if e.UserID != nil {
		attrs = append(attrs, "user_id", *e.UserID)
	}
	if e.ActorID != nil {
		attrs = append(attrs, "actor_id", *e.ActorID)
	}
	if e.Method != "" {
		attrs = append(attrs, "method", e.Method)
	}
	if e.Detail != "" {
		attrs = append(attrs, "detail", e.Detail)
	}
	l.logger.InfoContext(ctx, "security event", attrs...)
	if l.count != nil {
		l.count(string(e.Kind))
	}
}

// Clip cuts s, the client's text (a user agent, an address), to at most
// n bytes on a character boundary, without invalid UTF-8 or control
// characters, which PostgreSQL and MySQL would refuse: what a column of
// the client's text stores.
func Clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// UserRef returns a pointer to id, for Event.UserID and ActorID.
func UserRef(id uint) *uint { return &id }
