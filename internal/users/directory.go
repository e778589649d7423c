package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/seclog"
)

// Directory checks passwords against the company directory:
// *directory.Client (USER_LDAP).
type Directory interface {
	Authenticate(ctx context.Context, username, password string) (*directory.Account, error)
}

// maxDirectoryNameLen is the longest directory username the
// users.directory_name column holds, in bytes.
const maxDirectoryNameLen = 255

// DirectoryRoles are the roles the directory's groups decide for a
// directory-managed account (LDAP_GROUP_TO_ROLE_*); other roles are
// granted here as for any account.
var DirectoryRoles = []string{RoleAdmin, RoleDev, RoleUser}

// Directory reports whether the account is managed by the directory.
func (u *User) Directory() bool { return u.DirectoryName != nil }

// signInWithDirectory is SignIn with a Directory: it checks username and
// password with s.Directory and returns the local account of that
// directory user, created at their first sign-in (address confirmed, no
// local password) and brought up to date at every one: address, and the
// roles of DirectoryRoles as the user's groups now give them. A wrong
// password or unknown user is ErrInvalidCredentials, as is an account
// deactivated here.
//
// With s.AllowLocalSignIn, a username the directory does not know, or any
// username while the directory is unavailable, is tried as the email
// address of a local account: the break-glass admin still signs in when
// the directory is down. Directory-managed accounts never sign in with a
// local password.
func (s *Service) signInWithDirectory(ctx context.Context, username, password string, at *attempt) (*User, error) {
	at.method = MethodDirectory
	allowLocal := s.AllowLocalSignIn
	if password == "" || len(password) > MaxPasswordLen {
		at.refuse("no password, or one too long", nil)
		return nil, fmt.Errorf("directory sign-in: %w", ErrInvalidCredentials)
	}
	a, err := s.Directory.Authenticate(ctx, username, password)
	name := username
	if a != nil {
		name = a.Username
	}
	if errors.Is(err, directory.ErrNoSuchUser) || errors.Is(err, directory.ErrNoRole) {
		if rerr := s.revokeDirectoryUser(ctx, directory.Key(name)); rerr != nil {
			return nil, fmt.Errorf("directory sign-in: %w", rerr)
		}
	}
	switch {
	case err == nil:
		u, err := s.syncDirectoryUser(ctx, a)
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			at.refuse("account deactivated", s.directoryUser(ctx, name))
		case errors.Is(err, ErrDirectoryEmailTaken):
			at.refuse("the directory's address is a local account's", nil)
		case errors.Is(err, directory.ErrNoEmail):
			at.refuse("no address in the directory", nil)
		}
		return u, err
	case allowLocal && (errors.Is(err, directory.ErrNoSuchUser) || errors.Is(err, directory.ErrUnavailable)):
		u, lerr := s.authenticate(ctx, username, password, at)
		if lerr == nil || !errors.Is(err, directory.ErrUnavailable) || !errors.Is(lerr, ErrInvalidCredentials) {
			return u, lerr
		}
		at.method = MethodDirectory
		at.refuse("directory unavailable", nil)
		return nil, err
	case allowLocal && errors.Is(err, directory.ErrWrongPassword):
		at.refuse("wrong password", s.directoryUser(ctx, name))
		// An unknown name costs a local check (above): a wrong directory
		// password costs as much, so timing does not tell them apart.
		if herr := s.checkNothing(ctx, password); herr != nil {
			at.why = ""
			return nil, fmt.Errorf("directory sign-in: %w", herr)
		}
		return nil, fmt.Errorf("directory sign-in: %w", ErrInvalidCredentials)
	case errors.Is(err, directory.ErrWrongPassword):
		at.refuse("wrong password", s.directoryUser(ctx, name))
		return nil, fmt.Errorf("directory sign-in: %w", ErrInvalidCredentials)
	case errors.Is(err, directory.ErrNoSuchUser):
		at.refuse("unknown account", nil)
		return nil, fmt.Errorf("directory sign-in: %w", ErrInvalidCredentials)
	case errors.Is(err, directory.ErrNoRole):
		at.refuse("in no directory group allowed to sign in", s.directoryUser(ctx, name))
	case errors.Is(err, directory.ErrUnavailable):
		at.refuse("directory unavailable", nil)
	}
	return nil, err
}

// directoryUser is the local account of directory user name, for a
// security event; nil when there is none (or it cannot be read).
func (s *Service) directoryUser(ctx context.Context, name string) *User {
	if !db.PlainText(name) {
		return nil
	}
	var u User
	if err := s.db.WithContext(ctx).Select("id").Where("directory_name = ?", directory.Key(name)).Take(&u).Error; err != nil {
		return nil
	}
	return &u
}

// syncDirectoryUser creates or updates the local account of a, in one
// transaction; two first sign-ins at once make one account.
func (s *Service) syncDirectoryUser(ctx context.Context, a *directory.Account) (*User, error) {
	name := directory.Key(a.Username)
	if len(name) > maxDirectoryNameLen || !db.PlainText(name) {
		// No such name fits the column: nobody signs in with it.
		return nil, fmt.Errorf("directory user: the username is longer than %d bytes: %w", maxDirectoryNameLen, ErrInvalidCredentials)
	}
	email, err := normalizeEmail(a.Email)
	if err != nil {
		return nil, fmt.Errorf("directory user: %w: %w", directory.ErrNoEmail, err)
	}
	var u *User
	for attempt := 0; ; attempt++ {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			u, err = s.syncInTx(tx, name, email, a)
			return err
		})
		if !errors.Is(err, gorm.ErrDuplicatedKey) || attempt > 0 {
			break
		}
		// Another sign-in made the account first, or a local account has
		// the address: look again.
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		err = ErrDirectoryEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("directory user: %w", err)
	}
	return u, nil
}

func (s *Service) syncInTx(tx *gorm.DB, name, email string, a *directory.Account) (*User, error) {
	id, err := lockDirectoryUser(tx, name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if other, err := s.byEmail(tx, email); err == nil && !other.Directory() {
			return nil, ErrDirectoryEmailTaken
		}
		display := strings.TrimSpace(a.Name)
		if !validName(display) {
			display = ""
		}
		now := db.Now()
		u := &User{Email: email, Name: display, DirectoryName: &name, Active: true, EmailConfirmedAt: &now, SessionKey: newSessionKey()}
		if err := tx.Omit("Roles").Create(u).Error; err != nil {
			return nil, err
		}
		id = u.ID
	case err != nil:
		return nil, err
	default:
		res := tx.Model(&User{}).Where("id = ? AND email <> ?", id, email).
			Updates(map[string]any{"email": email, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return nil, res.Error
		}
	}
	if _, err := setDirectoryRoles(tx, id, a.Roles); err != nil {
		return nil, err
	}
	u, err := s.byID(tx, id)
	if err != nil {
		return nil, err
	}
	if !u.Active {
		return nil, ErrInvalidCredentials
	}
	return u, nil
}

// revokeDirectoryUser takes the directory's roles, and every session,
// from the account of directory user name, who the directory no longer
// lets in (gone, or out of every allowed group): an open session or an
// API key must not keep admin or dev until someone notices. Roles granted
// here stay. An account without such roles is left as it is.
func (s *Service) revokeDirectoryUser(ctx context.Context, name string) error {
	return s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		id, err := lockDirectoryUser(tx, name)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		removed, err := setDirectoryRoles(tx, id, nil)
		if err != nil || removed == 0 {
			return err
		}
		err = tx.Model(&User{}).Where("id = ?", id).
			Updates(map[string]any{"session_key": newSessionKey(), "updated_at": time.Now().UTC()}).Error
		if err != nil {
			return err
		}
		return s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), Kind: seclog.RolesChanged, Method: MethodDirectory,
			Detail: "the directory no longer lets the account in: its directory roles removed, every session signed out"})
	})
}

// lockDirectoryUser finds the account of directory user name and takes
// its turn (lockUser); no such account is sql.ErrNoRows.
func lockDirectoryUser(tx *gorm.DB, name string) (uint, error) {
	var id uint
	if err := tx.Model(&User{}).Where("directory_name = ?", name).Select("id").Row().Scan(&id); err != nil {
		return 0, err
	}
	return id, lockUser(tx, id)
}

// setDirectoryRoles makes user id hold exactly the roles of roles among
// DirectoryRoles, leaving their other roles alone, and says how many it
// took away.
func setDirectoryRoles(tx *gorm.DB, id uint, roles []string) (removed int64, err error) {
	all, err := findRoles(tx, DirectoryRoles)
	if err != nil {
		return 0, err
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
	return applyRoleRows(tx, id, drop, add)
}

// applyRoleRows takes the roles drop (ids) from user id and grants add
// (which may be held already), and says how many it took away: the
// writes of the roles a directory or a provider decides.
func applyRoleRows(tx *gorm.DB, id uint, drop []uint, add []userRole) (removed int64, err error) {
	if len(drop) > 0 {
		res := tx.Where("user_id = ? AND role_id IN ?", id, drop).Delete(&userRole{})
		if res.Error != nil {
			return 0, res.Error
		}
		removed = res.RowsAffected
	}
	if len(add) > 0 {
		return removed, tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&add).Error
	}
	return removed, nil
}

// checkDirectoryPassword checks the password of directory-managed u with
// the directory, as checkOwnPassword does a local one.
func (s *Service) checkDirectoryPassword(ctx context.Context, u *User, password string) error {
	if s.Directory == nil || !u.Active {
		return ErrInvalidCredentials
	}
	a, err := s.Directory.Authenticate(ctx, *u.DirectoryName, password)
	switch {
	case err == nil && directory.Key(a.Username) == *u.DirectoryName:
		return nil
	case err == nil, errors.Is(err, directory.ErrNoSuchUser), errors.Is(err, directory.ErrWrongPassword), errors.Is(err, directory.ErrNoRole):
		return ErrInvalidCredentials
	case errors.Is(err, directory.ErrNoEmail):
		return nil // the password was right
	}
	return err
}

// keepDirectoryRoles returns names (sorted, no repeats) with the
// DirectoryRoles that directory-managed u holds added: a change of its
// other roles leaves those as the directory gave them.
func keepDirectoryRoles(u *User, names []string) []string {
	if !u.Directory() {
		return names
	}
	names = slices.Clone(names)
	for _, r := range u.RoleNames() {
		if slices.Contains(DirectoryRoles, r) {
			names = append(names, r)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// checkDirectoryRoles refuses a change of directory-managed u's roles to
// names that would change any of DirectoryRoles, naming the first such:
// they follow the directory's groups (LDAP_GROUP_TO_ROLE_*).
func checkDirectoryRoles(u *User, names []string) error {
	if !u.Directory() {
		return nil
	}
	for _, r := range DirectoryRoles {
		if slices.Contains(names, r) != slices.ContainsFunc(u.Roles, func(h Role) bool { return h.Name == r }) {
			return fmt.Errorf("%w: its %s role follows its directory groups (LDAP_GROUP_TO_ROLE_%s), so change it there", ErrDirectoryManaged, r, strings.ToUpper(r))
		}
	}
	return nil
}
