// Package users owns user accounts and roles: the User and Role models
// (tables users, roles and user_roles, created by migration 00002_users),
// creating accounts, sign-in (SignIn: a local password, argon2id, or the
// company directory, directory.go), role membership, and the single-use
// tokens of password-reset and email-confirmation links (table
// user_tokens, migration 00003; see tokens.go), API keys (table api_keys,
// migration 00004; apikeys.go), identities at OpenID Connect providers
// and the rules of signing in through them (table user_identities,
// migration 00011; identities.go) and the admin panel's listing and
// editing (admin.go). Its errors are in errors.go. It knows nothing about HTTP;
// the web layer and the manage CLI call its Service.
package users

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
)

// Password length limits: at least MinPasswordLen characters, at most
// MaxPasswordLen bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// MaxNameLen is the longest display name, in characters (runes), that
// the users.name column holds.
const MaxNameLen = 200

// maxEmailLen is the longest address the users.email column holds (RFC 5321).
const maxEmailLen = 254

// User is an account. The schema lives in migrations/*/00002_users.sql.
type User struct {
	ID uint
	// Email is the sign-in name, stored trimmed and lower-cased.
	Email string
	// Name is the display name the user edits on their profile.
	Name string
	// PasswordHash is the argon2id hash in its PHC string form
	// ($argon2id$v=19$m=…); the password itself is never stored.
	PasswordHash string
	// EmailConfirmedAt is when the address was confirmed; nil until then.
	EmailConfirmedAt *time.Time
	// Active false disables the account: it can no longer sign in.
	Active bool
	// SessionKey is a random secret (128 bits, as crypto/rand.Text gives
	// them) that every session of
	// the user carries; a session is over once it no longer matches.
	// Ending the user's sessions (EndSessions, a password change or reset,
	// deactivation) makes a new one. Kept only in this database and in
	// the sessions, it makes a session impossible to forge elsewhere, even
	// by a deployment that shares SECRET_KEY. Empty for an account that
	// has not signed in since the key was introduced (EnsureSessionKey):
	// no session matches an empty key.
	SessionKey string
	// DirectoryName is the directory username of an account made by
	// directory sign-in (USER_LDAP), in the form the directory compares
	// (directory.Key); nil for a local account. A directory-managed
	// account has no local password.
	DirectoryName *string
	// Roles are the roles granted to the user, sorted by name.
	Roles []Role `gorm:"many2many:user_roles"`
	// APIKeys is how many unrevoked API keys the user holds, as ByID
	// (every signed-in request's load) counted them in the same
	// statement; the other lookups leave it 0 (CountAPIKeys counts).
	APIKeys int `gorm:"-"`
	// SecondFactor is whether the user has a second factor (an
	// authenticator app or a passkey), as ByID and the sign-in methods
	// found it (mfa.go); the other lookups leave it false.
	SecondFactor bool `gorm:"-"`
	// SignInMethod is how the password of a sign-in that still needs its
	// second factor was checked (MethodPassword or MethodDirectory), for
	// the security event that CompleteSignIn records.
	SignInMethod string `gorm:"-"`
	// AvatarKey is the storage key of the user's profile picture, as
	// re-encoded on upload; empty when they have none (avatar.go).
	AvatarKey string `gorm:"column:avatar_key"`
	// AvatarVariants is set once the storage:avatar task has stored the
	// resized copies (AvatarSizes) beside it.
	AvatarVariants bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// HasRole reports whether the user holds the role name. Admins hold every
// role. It needs Roles loaded, as Create, ByEmail, ByID and SignIn do.
func (u *User) HasRole(name string) bool {
	for _, r := range u.Roles {
		if r.Name == name || r.Name == RoleAdmin {
			return true
		}
	}
	return false
}

// RoleNames lists the names of the user's roles, sorted.
func (u *User) RoleNames() []string {
	names := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		names[i] = r.Name
	}
	slices.Sort(names)
	return names
}

// Service creates, finds and authenticates users and manages roles.
// It is safe for concurrent use once built.
type Service struct {
	db *gorm.DB
	// The queries of every signed-in request and API call, prepared.
	userByID, userByEmail, apiKeyUser *db.Stmt

	// Params are the argon2id parameters new password hashes are made
	// with. NewService sets DefaultParams, which production uses; tests
	// lower them (e.g. Memory 8*1024, Iterations 1) to stay fast. Each
	// hash records its own parameters, so changing this never invalidates
	// stored passwords: a hash made with others is replaced at the user's
	// next sign-in. Set it before first use.
	Params *argon2id.Params
	// MaxConcurrentHashes is how many password hashes of Params.Memory
	// may run at once (each holds that memory while it runs); more wait
	// for a turn, and a hash stored with more memory takes the room of
	// several. NewService sets the number of CPUs the process may use:
	// more at once would only take turns on the CPUs anyway. Set it before
	// first use.
	MaxConcurrentHashes int

	hashingOnce sync.Once
	hashing     *hashing
	dummyMu     sync.Mutex
	dummy       string // a hash of nothing anyone knows, see authenticate
	// RequireConfirmedEmail (USER_REQUIRE_CONFIRMED_EMAIL) keeps accounts
	// whose address is not confirmed from signing in or getting API keys
	// (SignIn fails with ErrEmailUnconfirmed), for every caller.
	RequireConfirmedEmail bool
	// Directory checks the passwords of directory-managed accounts
	// (USER_LDAP); nil when directory sign-in is off. With it, SignIn
	// takes directory usernames.
	Directory Directory
	// AllowLocalSignIn (USER_LDAP_ALLOW_LOCAL) lets SignIn, with a
	// Directory, try a name the directory does not know, or any name
	// while the directory is unavailable, as the email address of a local
	// account: the break-glass admin still signs in when the directory
	// is down.
	AllowLocalSignIn bool
	// Events is the security log the service records sign-ins and
	// changes to accounts in, in the transaction of each change; nil
	// records nothing.
	Events *seclog.Log
	// Secrets seals the keys of users' authenticator apps
	// (keyring.SecondFactor); without it, turning one on fails with
	// ErrNoSecrets.
	Secrets *keyring.Sealer
	// RequiredRoles (MFA_REQUIRED_ROLES) are the roles whose holders must
	// have a second factor: SignInForAPI refuses them one without
	// (ErrSecondFactorRequired).
	RequiredRoles []string
	// Now is the clock authenticator codes are checked against; nil is
	// time.Now. Tests set it.
	Now func() time.Time
	// AppName is the site's name (APP_NAME): a password built on it is
	// easy to guess, so CheckPassword refuses it.
	AppName string
}

// NewService returns a Service storing users in d, which must have the
// users migration applied.
func NewService(d *db.DB) *Service {
	return &Service{
		db:          d.Gorm,
		userByID:    d.ReadStmt(userByIDQuery),
		userByEmail: d.ReadStmt(userByEmailQuery),
		apiKeyUser:  d.ReadStmt(apiKeyUserQuery),
		Params:      DefaultParams,
		// A process limited to fewer CPUs than the machine has (a
		// container quota, GOMAXPROCS) gets fewer turns.
		MaxConcurrentHashes: runtime.GOMAXPROCS(0),
	}
}

// Create adds an active user with the user role plus roles, all of which
// must exist, their address not yet confirmed. The email is trimmed and
// lower-cased. The security log records it as made by an operator
// (manage); the admin panel uses CreateBy, registration Register.
func (s *Service) Create(ctx context.Context, email, password string, roles ...string) (*User, error) {
	return s.create(ctx, email, password, roles, false, origin{method: MethodManage}, nil)
}

// CreateConfirmed is Create for an account an operator vouches for (the
// admin panel, `manage user create`): its address counts as confirmed.
func (s *Service) CreateConfirmed(ctx context.Context, email, password string, roles ...string) (*User, error) {
	return s.create(ctx, email, password, roles, true, origin{method: MethodManage}, nil)
}

// CreateBy is Create (or, with confirmed, CreateConfirmed) for admin by
// in the admin panel: the security log says who made the account.
func (s *Service) CreateBy(ctx context.Context, by uint, email, password string, confirmed bool, roles ...string) (*User, error) {
	return s.create(ctx, email, password, roles, confirmed, origin{by: by, method: MethodAdmin}, nil)
}

// origin is who makes a change, for its security event: an admin (by,
// method MethodAdmin), or the user or an operator (by 0).
type origin struct {
	by     uint
	method string
}

// changedBy is the origin of a change made by admin by, or, when by is
// 0, by an operator (manage).
func changedBy(by uint) origin {
	if by == 0 {
		return origin{method: MethodManage}
	}
	return origin{by: by, method: MethodAdmin}
}

// actor is the event's ActorID for o: nil unless an admin did it.
func (o origin) actor() *uint {
	if o.by == 0 {
		return nil
	}
	return seclog.UserRef(o.by)
}

// The methods of the security events the service records beside
// "password", "directory" and "api" (sign-ins): "link", an emailed
// link; "admin", the admin panel; "manage", an operator's command;
// "register", the registration form.
const (
	MethodPassword  = "password"
	MethodDirectory = "directory"
	MethodAPI       = "api"
	MethodLink      = "link"
	MethodAdmin     = "admin"
	MethodManage    = "manage"
	MethodRegister  = "register"
)

// create makes the user and, in the same transaction, records it in the
// security log (as made by o) and runs also (when set) with it.
func (s *Service) create(ctx context.Context, email, password string, roles []string, confirmed bool, o origin, also func(tx *gorm.DB, u *User) error) (*User, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	if err := s.CheckPassword(password, email); err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	names := append([]string{RoleUser}, roles...)
	slices.Sort(names)
	names = slices.Compact(names)

	g := s.db.WithContext(ctx)
	found, err := findRoles(g, names)
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	u := &User{Email: email, PasswordHash: hash, Active: true, SessionKey: newSessionKey(), Roles: found}
	if confirmed {
		now := db.Now()
		u.EmailConfirmedAt = &now
	}
	err = s.Events.Transaction(ctx, g, func(tx *gorm.DB) error {
		// Omit("Roles.*") links the existing roles without writing to
		// roles; gorm inserts the user_roles rows with the user.
		if err := tx.Omit("Roles.*").Create(u).Error; err != nil {
			return err
		}
		err := s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), ActorID: o.actor(), Kind: seclog.AccountCreated,
			Method: o.method, Detail: "roles: " + strings.Join(u.RoleNames(), ", ")})
		if err != nil {
			return err
		}
		if also != nil {
			return also(tx, u)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			err = ErrEmailTaken
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// ByEmail finds a user by email address (any case), with roles loaded.
func (s *Service) ByEmail(ctx context.Context, email string) (*User, error) {
	if !db.PlainText(email) { // no stored address has one; PostgreSQL would refuse the query
		return nil, fmt.Errorf("find user: %w", ErrNotFound)
	}
	key := strings.ToLower(strings.TrimSpace(email))
	u, err := scanUser(s.userByEmail.Query(ctx, key))
	if err != nil {
		return nil, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

func (s *Service) byEmail(g *gorm.DB, email string) (*User, error) {
	if !db.PlainText(email) {
		return nil, ErrNotFound
	}
	return scanUser(g.Raw(userByEmailQuery, email).Rows())
}

// ByID finds a user by id, with roles loaded, its unrevoked API keys
// counted (User.APIKeys) and its second factors noted (User.SecondFactor), in one query: every signed-in request loads
// its user this way, and the home page shows the count without another
// round trip.
func (s *Service) ByID(ctx context.Context, id uint) (*User, error) {
	var keys, factors int
	rows, err := s.userByID.Query(ctx, id)
	u, err := scanUser(rows, err, &keys, &factors)
	if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, err)
	}
	u.APIKeys = keys
	u.SecondFactor = factors > 0
	return u, nil
}

// byID is ByID through g, which may be a transaction, without the count
// of API keys.
func (s *Service) byID(g *gorm.DB, id uint) (*User, error) {
	return scanUser(g.Raw(userByIDPlainQuery, id).Rows())
}

// The user queries select a user's columns and its roles, a row per role
// or one with NULL role columns when it has none, for scanUser. (scanUser
// sorts the roles: an ORDER BY would make SQLite sort through a temporary
// table on every signed-in request.)
const (
	userColumns = "users.id, users.email, users.name, users.password_hash, users.email_confirmed_at, users.active, users.session_key, users.directory_name, users.avatar_key, users.avatar_variants, users.created_at, users.updated_at, roles.id, roles.name"
	roleJoins   = " LEFT JOIN user_roles ON user_roles.user_id = users.id LEFT JOIN roles ON roles.id = user_roles.role_id"

	// userByIDQuery also counts the user's unrevoked API keys (an index
	// probe on api_keys.user_id), after the roles' columns.
	userByIDQuery = "SELECT " + userColumns +
		", (SELECT COUNT(*) FROM api_keys WHERE api_keys.user_id = users.id AND api_keys.revoked_at IS NULL)" +
		", (SELECT COUNT(*) FROM user_totp WHERE user_totp.user_id = users.id)" +
		" + (SELECT COUNT(*) FROM passkeys WHERE passkeys.user_id = users.id)" +
		" FROM users" + roleJoins + " WHERE users.id = ?"
	userByIDPlainQuery = "SELECT " + userColumns + " FROM users" + roleJoins + " WHERE users.id = ?"
	userByEmailQuery   = "SELECT " + userColumns + " FROM users" + roleJoins + " WHERE users.email = ?"
	// apiKeyUserQuery finds an API key by its hash, with its user and
	// roles; the key's id, revocation and last use follow the user's
	// columns.
	apiKeyUserQuery = "SELECT " + userColumns + ", api_keys.id, api_keys.revoked_at, api_keys.last_used_at" +
		" FROM api_keys JOIN users ON users.id = api_keys.user_id" + roleJoins + " WHERE api_keys.key_hash = ?"
)

// scanUser reads the rows of a user query into the user they describe,
// roles sorted by name, and the columns after the roles' into extra; it
// closes rows. No rows is ErrNotFound. (Scanning by hand rather than with
// gorm's reflection halves the cost of the query.)
func scanUser(rows *sql.Rows, err error, extra ...any) (*User, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var u *User
	for rows.Next() {
		var r User
		var roleID sql.NullInt64
		var roleName, avatar sql.NullString
		dest := append([]any{&r.ID, &r.Email, &r.Name, &r.PasswordHash, &r.EmailConfirmedAt, &r.Active, &r.SessionKey, &r.DirectoryName,
			&avatar, &r.AvatarVariants, &r.CreatedAt, &r.UpdatedAt, &roleID, &roleName}, extra...)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		r.AvatarKey = avatar.String
		if u == nil {
			u = &r
			u.Roles = []Role{}
		}
		if roleID.Valid {
			u.Roles = append(u.Roles, Role{ID: uint(roleID.Int64), Name: roleName.String})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, ErrNotFound
	}
	slices.SortFunc(u.Roles, func(a, b Role) int { return strings.Compare(a.Name, b.Name) })
	return u, nil
}

// newSessionKey returns a fresh User.SessionKey: setting it ends every
// session of the user.
func newSessionKey() string { return rand.Text() }

// EndSessions ends every session of user id, on every store and process:
// each is refused at its next request. It returns the user as it is now,
// so the caller's own session can be signed in again with the new key.
func (s *Service) EndSessions(ctx context.Context, id uint) (*User, error) {
	return s.EndSessionsBy(ctx, 0, id)
}

// EndSessionsBy is EndSessions done by admin by (0: an operator), who
// the security log names.
func (s *Service) EndSessionsBy(ctx context.Context, by, id uint) (*User, error) {
	o := changedBy(by)
	var u *User
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ?", id).Update("session_key", newSessionKey())
		if res.Error != nil {
			return res.Error
		}
		var err error
		if u, err = s.byID(tx, id); err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), ActorID: o.actor(), Kind: seclog.SessionsEnded,
			Method: o.method, Detail: "every session"})
	})
	if err != nil {
		return nil, fmt.Errorf("end the sessions of user %d: %w", id, err)
	}
	return u, nil
}

// ConfirmPassword checks that password is the signed-in user u's (the
// directory's for a directory account), before a change that needs more
// than a session: ErrInvalidCredentials when it is not, or when u has no
// password at all.
func (s *Service) ConfirmPassword(ctx context.Context, u *User, password string) error {
	return s.checkOwnPassword(ctx, u, password)
}

// checkOwnPassword checks that password is u's and u is active, as an
// account's owner proves themselves before a sensitive change; anything
// else is ErrInvalidCredentials.
func (s *Service) checkOwnPassword(ctx context.Context, u *User, password string) error {
	if len(password) > MaxPasswordLen || password == "" {
		return ErrInvalidCredentials
	}
	if u.Directory() {
		return s.checkDirectoryPassword(ctx, u, password)
	}
	if u.PasswordHash == "" {
		// Made by a sign-in through a provider: no password matches.
		return ErrInvalidCredentials
	}
	match, err := s.matches(ctx, password, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("check the password: %w", err)
	}
	if !match || !u.Active {
		return ErrInvalidCredentials
	}
	return nil
}

// EnsureSessionKey returns u with a session key: u itself when it has
// one, else the user after one was given to it. Only accounts that have
// not signed in since session keys were introduced have none; two
// sign-ins racing to give one agree on the key that won.
func (s *Service) EnsureSessionKey(ctx context.Context, u *User) (*User, error) {
	if u.SessionKey != "" {
		return u, nil
	}
	g := s.db.WithContext(ctx)
	if err := g.Model(&User{}).Where("id = ? AND session_key = ?", u.ID, "").Update("session_key", newSessionKey()).Error; err != nil {
		return nil, fmt.Errorf("give user %d a session key: %w", u.ID, err)
	}
	got, err := s.byID(g, u.ID)
	if err != nil {
		return nil, fmt.Errorf("give user %d a session key: %w", u.ID, err)
	}
	return got, nil
}

// EndOtherSessions ends every session of user id but the caller's, which
// carries the session key sessionKey, once password is shown to be theirs:
// someone holding only a stolen session cannot sign its owner out. When
// the user's sessions were ended in the meantime (another such request,
// a password change), the caller's is among them: it fails with
// ErrSessionEnded and changes nothing. A wrong password, or an inactive
// user, is ErrInvalidCredentials.
func (s *Service) EndOtherSessions(ctx context.Context, id uint, sessionKey, password string) (*User, error) {
	g := s.db.WithContext(ctx)
	u, err := s.byID(g, id)
	if err != nil {
		return nil, fmt.Errorf("end the other sessions of user %d: %w", id, err)
	}
	if err := s.checkOwnPassword(ctx, u, password); err != nil {
		return nil, fmt.Errorf("end the other sessions of user %d: %w", id, err)
	}
	if sessionKey == "" {
		return nil, fmt.Errorf("end the other sessions of user %d: %w", id, ErrSessionEnded)
	}
	err = s.Events.Transaction(ctx, g, func(tx *gorm.DB) error {
		var err error
		u, err = s.updateIf(tx, id, "session_key = ?", sessionKey, map[string]any{"session_key": newSessionKey()}, ErrSessionEnded)
		if err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.SessionsEnded, Detail: "every other session"})
	})
	if err != nil {
		return nil, fmt.Errorf("end the other sessions of user %d: %w", id, err)
	}
	return u, nil
}

// updateIf applies changes to user id if the row still matches cond
// (with arg), failing with stale when it no longer does (another request
// changed it first), and returns the user as it now is.
func (s *Service) updateIf(g *gorm.DB, id uint, cond string, arg any, changes map[string]any, stale error) (*User, error) {
	res := g.Model(&User{}).Where("id = ? AND "+cond, id, arg).Updates(changes)
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, stale
	}
	return s.byID(g, id)
}

// SetPassword replaces the password of the user with that email and ends
// their sessions.
func (s *Service) SetPassword(ctx context.Context, email, password string) error {
	key := strings.ToLower(strings.TrimSpace(email))
	if u, err := s.byEmail(s.db.WithContext(ctx), key); err == nil && u.Directory() {
		return fmt.Errorf("set password: %w", ErrDirectoryManaged)
	}
	if err := s.CheckPassword(password, key); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	err = s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		u, err := s.byEmail(tx, key)
		if err != nil {
			return err
		}
		err = tx.Model(&User{}).Where("id = ?", u.ID).
			Updates(map[string]any{"password_hash": hash, "updated_at": time.Now(), "session_key": newSessionKey()}).Error
		if err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.PasswordChanged, Method: MethodManage,
			Detail: "set by an operator (manage); every session signed out"})
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// SetName sets the display name of user id, trimmed of surrounding
// white space. An empty name is allowed; one longer than MaxNameLen
// characters fails with ErrInvalidName.
func (s *Service) SetName(ctx context.Context, id uint, name string) error {
	name = strings.TrimSpace(name)
	if !validName(name) {
		return fmt.Errorf("set name of user %d: %w", id, ErrInvalidName)
	}
	g := s.db.WithContext(ctx)
	res := g.Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"name": name, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return fmt.Errorf("set name of user %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		// MySQL counts changed rows, not matched ones: make sure the user
		// is really missing rather than already named so.
		if _, err := s.byID(g, id); err != nil {
			return fmt.Errorf("set name of user %d: %w", id, err)
		}
	}
	return nil
}

// ChangePassword replaces the password of user id after checking the
// current one: a wrong oldPassword, like an inactive account, fails with
// ErrInvalidCredentials; a newPassword outside the length limits with
// ErrInvalidPassword. It ends the user's sessions and returns the user as
// it is now, so the caller can keep its own session at the new version.
func (s *Service) ChangePassword(ctx context.Context, id uint, oldPassword, newPassword string) (*User, error) {
	g := s.db.WithContext(ctx)
	u, err := s.byID(g, id)
	if err != nil {
		return nil, fmt.Errorf("change password of user %d: %w", id, err)
	}
	if u.Directory() {
		return nil, fmt.Errorf("change password of user %d: %w", id, ErrDirectoryManaged)
	}
	if u.PasswordHash == "" {
		return nil, fmt.Errorf("change password of user %d: %w", id, ErrNoPassword)
	}
	if err := s.CheckPassword(newPassword, u.Email); err != nil {
		return nil, fmt.Errorf("change password of user %d: %w", id, err)
	}
	if err := s.checkOwnPassword(ctx, u, oldPassword); err != nil {
		return nil, fmt.Errorf("change password of user %d: %w", id, err)
	}
	hash, err := s.hash(ctx, newPassword)
	if err != nil {
		return nil, fmt.Errorf("change password of user %d: %w", id, err)
	}
	// The stored hash must still be the one just checked: two concurrent
	// changes with the same old password cannot both win.
	old := u.PasswordHash
	err = s.Events.Transaction(ctx, g, func(tx *gorm.DB) error {
		var err error
		u, err = s.updateIf(tx, id, "password_hash = ?", old,
			map[string]any{"password_hash": hash, "updated_at": time.Now().UTC(), "session_key": newSessionKey()}, ErrInvalidCredentials)
		if err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.PasswordChanged, Method: MethodPassword,
			Detail: "every other session signed out"})
	})
	if err != nil {
		return nil, fmt.Errorf("change password of user %d: %w", id, err)
	}
	return u, nil
}

// SignIn returns the user whose name and password these are, with roles
// loaded, for every way in (the sign-in form, the API's credentials).
// Without a Directory, name is the email address of a local account
// (authenticate). With one (USER_LDAP), name is a directory username,
// checked by the directory, and the account is made or brought up to
// date from it (signInWithDirectory); with AllowLocalSignIn too, local
// accounts sign in by email address as well. An unknown name, a wrong
// password or an inactive account is ErrInvalidCredentials; a right
// password on an account RequireConfirmedEmail holds back is
// ErrEmailUnconfirmed. The security log records each sign-in, and each
// refusal with why (never what was typed). A user with a second factor
// comes back with SecondFactor set and is not signed in yet: nothing is
// recorded until CompleteSignIn (mfa.go) has checked the second factor.
func (s *Service) SignIn(ctx context.Context, name, password string) (*User, error) {
	return s.signIn(ctx, "", name, password)
}

// SignInForAPI is SignIn for a client trading its password for an API
// key (/api/v1/credentials): the security log records its sign-ins, and
// failures, with the method "api". An account whose role needs a second
// factor (RequiredRoles) that it has not set up is refused with
// ErrSecondFactorRequired, recorded as a failed sign-in.
func (s *Service) SignInForAPI(ctx context.Context, name, password string) (*User, error) {
	return s.signIn(ctx, MethodAPI, name, password)
}

// attempt is what a sign-in learned, for its security event: how the
// password was checked (MethodPassword or MethodDirectory), the account
// when one is known, and, for a refusal, why ("" for a failure that is
// no refusal, the database being down say: nothing is recorded).
type attempt struct {
	method string
	user   *uint
	why    string
}

// refuse notes why the attempt was refused, and whose account it was
// (nil: none known).
func (a *attempt) refuse(why string, user *User) {
	a.why = why
	if user != nil {
		a.user = seclog.UserRef(user.ID)
	}
}

// signIn is SignIn, recording the outcome in the security log with the
// method via, or, when via is "", the way the password was checked.
func (s *Service) signIn(ctx context.Context, via, name, password string) (*User, error) {
	var at attempt
	var u *User
	var err error
	if s.Directory != nil {
		u, err = s.signInWithDirectory(ctx, name, password, &at)
	} else {
		u, err = s.authenticate(ctx, name, password, &at)
	}
	e := seclog.Event{Kind: seclog.SignIn, Method: at.method, UserID: at.user}
	if via != "" {
		// The API says how the password was checked in the detail.
		e.Method, e.Detail = via, at.method
	}
	switch {
	case err == nil:
		e.UserID = seclog.UserRef(u.ID)
		if u.SecondFactor, err = hasSecondFactor(s.db.WithContext(ctx), u.ID); err != nil {
			return nil, fmt.Errorf("sign in: %w", err)
		}
		if u.SecondFactor {
			// Half signed in: CompleteSignIn records the sign-in once the
			// second factor is shown.
			u.SignInMethod = e.Method
			return u, nil
		}
		if via == MethodAPI && RequiresSecondFactor(u, s.RequiredRoles) {
			// The API gives no key to an account its role holds back
			// until it has a second factor: no sign-in, a refusal.
			e.Kind, e.Detail = seclog.SignInFailed, strings.TrimPrefix(e.Detail+": a second factor must be set up first", ": ")
			u, err = nil, ErrSecondFactorRequired
		}
	case at.why == "":
		return nil, err
	default:
		// For a name no account has, nothing typed is kept: such a name
		// is as likely a password typed into the wrong field as an
		// address, and the log must never hold a password. The time and
		// the client's address are enough to see guessing.
		e.Kind = seclog.SignInFailed
		e.Detail = strings.TrimPrefix(e.Detail+": "+at.why, ": ")
	}
	if rerr := s.Events.Record(ctx, nil, e); rerr != nil {
		return nil, fmt.Errorf("sign in: %w", rerr)
	}
	return u, err
}

// authenticate returns the active local user whose email and password
// these are, with roles loaded, or ErrInvalidCredentials, noting in at
// what it found. An unknown email
// costs the same password hashing as a known one, so response times do
// not reveal which addresses have accounts. A password whose stored hash
// was made with other parameters than s.Params is hashed again with them.
func (s *Service) authenticate(ctx context.Context, email, password string, at *attempt) (*User, error) {
	at.method = MethodPassword
	key := strings.ToLower(strings.TrimSpace(email))
	if len(password) > MaxPasswordLen { // no account has one; don't hash megabytes
		at.refuse("password too long", nil)
		return nil, fmt.Errorf("sign in: %w", ErrInvalidCredentials)
	}
	u, err := s.ByEmail(ctx, key)
	switch {
	case err == nil && u.Directory():
		// Its password is the directory's: signInWithDirectory checks it.
		at.refuse("a directory account: its password is the directory's", u)
		err = ErrNotFound
	case err == nil && u.PasswordHash == "":
		// Made by a sign-in through a provider, it has no password: it is
		// refused as an unknown address is, at the same cost.
		at.refuse("an account without a password", u)
		err = ErrNotFound
	case errors.Is(err, ErrNotFound):
		at.refuse("unknown account", nil)
	}
	if errors.Is(err, ErrNotFound) {
		if err := s.checkNothing(ctx, password); err != nil {
			at.why = ""
			return nil, fmt.Errorf("sign in: %w", err)
		}
		return nil, fmt.Errorf("sign in: %w", ErrInvalidCredentials)
	}
	if err != nil {
		return nil, fmt.Errorf("sign in: %w", err)
	}
	match, err := s.matches(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("sign in user %d: check the password: %w", u.ID, err)
	}
	if !match {
		at.refuse("wrong password", u)
		return nil, fmt.Errorf("sign in: %w", ErrInvalidCredentials)
	}
	if !u.Active {
		at.refuse("account deactivated", u)
		return nil, fmt.Errorf("sign in: %w", ErrInvalidCredentials)
	}
	if s.outdated(u.PasswordHash) {
		s.rehash(ctx, u, password)
	}
	if s.RequireConfirmedEmail && u.EmailConfirmedAt == nil {
		// The password was right (callers may give the guess back), but
		// the account may not be used yet.
		at.refuse("email address not confirmed", u)
		return nil, fmt.Errorf("sign in user %d: %w", u.ID, ErrEmailUnconfirmed)
	}
	return u, nil
}

// checkNothing spends what checking password against an account would
// (a hash of nothing anyone knows), so that a refusal takes as long
// whether or not the account exists.
func (s *Service) checkNothing(ctx context.Context, password string) error {
	dummy, err := s.dummyHash(ctx)
	if err == nil {
		_, err = s.matches(ctx, password, dummy)
	}
	return err
}

// rehash replaces u's password hash, just checked against password, with
// one made with s.Params. It is best effort: when it fails (the request
// ended, the database refused) the old hash stays, still valid, and is
// replaced at a later sign-in. A concurrent password change wins.
func (s *Service) rehash(ctx context.Context, u *User, password string) {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return
	}
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).
		Update("password_hash", hash)
	if res.Error == nil && res.RowsAffected == 1 {
		u.PasswordHash = hash
	}
}

// validName reports whether name (trimmed) fits the users.name column:
// at most MaxNameLen characters of plain text.
func validName(name string) bool {
	return utf8.RuneCountInString(name) <= MaxNameLen && db.PlainText(name)
}

// normalizeEmail trims and lower-cases a bare address (no display name,
// no angle brackets, no comments) and checks it.
func normalizeEmail(email string) (string, error) {
	trimmed := strings.TrimSpace(email)
	lower := strings.ToLower(trimmed)
	addr, err := mail.ParseAddress(lower)
	// plainText before lower-casing: ToLower turns invalid UTF-8 into U+FFFD.
	if err != nil || addr.Name != "" || addr.Address != lower || len(lower) > maxEmailLen || !db.PlainText(trimmed) {
		return "", ErrInvalidEmail
	}
	return lower, nil
}
