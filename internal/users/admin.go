package users

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/storage"
)

// ListQuery asks List for one page of users: those whose email or name
// holds Search, in the order of Sort.
type ListQuery struct {
	// Search, when not empty, keeps the users whose email or name
	// contains it, ignoring case; it is plain text (% and _ are
	// themselves). At most MaxSearch characters.
	Search string
	// Sort is SortCreated, SortEmail or SortName, and Desc reverses it;
	// users that tie are ordered by id, the same way. "" is newest first
	// (SortCreated, Desc).
	Sort string
	Desc bool
	// Page counts from 1; one past the last is the last page. PerPage
	// is the page's length, 1 to MaxPerPage.
	Page, PerPage int
}

// The orders List sorts by, and the longest search it takes.
const (
	SortCreated = "created"
	SortEmail   = "email"
	SortName    = "name"

	MaxSearch  = 100
	MaxPerPage = 500
)

// sortColumns maps each order List knows to its column.
var sortColumns = map[string]string{SortCreated: "created_at", SortEmail: "email", SortName: "name"}

// ErrBadListQuery is a ListQuery List does not take: an unknown order, a
// search too long or not plain text, a page length out of range.
var ErrBadListQuery = errors.New("bad user list query")

// Page is one page of users, with how many users match and the page's
// number among how many (at least 1, even for no users).
type Page struct {
	Users       []User
	Total       int64
	Page, Pages int
}

// List returns one page of the users q matches, with their roles: it
// counts them, then loads only the page's rows.
func (s *Service) List(ctx context.Context, q ListQuery) (Page, error) {
	var p Page
	if q.Sort == "" {
		q.Sort, q.Desc = SortCreated, true
	}
	column, ok := sortColumns[q.Sort]
	if !ok || q.PerPage < 1 || q.PerPage > MaxPerPage || !validSearch(q.Search) {
		return p, fmt.Errorf("list users: %w", ErrBadListQuery)
	}
	matching := func() *gorm.DB {
		g := s.db.WithContext(ctx).Model(&User{})
		if q.Search == "" {
			return g
		}
		// Both sides are folded by the database's own LOWER, so that
		// they fold alike: SQLite's folds ASCII letters only (a search
		// for "Émile" finds "Émile", not "ÉMILE"), PostgreSQL's and
		// MySQL's every letter.
		pattern := "%" + likeEscaper.Replace(q.Search) + "%"
		return g.Where("LOWER(email) LIKE LOWER(?) ESCAPE '!' OR LOWER(name) LIKE LOWER(?) ESCAPE '!'", pattern, pattern)
	}
	if err := matching().Count(&p.Total).Error; err != nil {
		return p, fmt.Errorf("count users: %w", err)
	}
	p.Pages = max(1, int((p.Total+int64(q.PerPage)-1)/int64(q.PerPage)))
	p.Page = min(max(q.Page, 1), p.Pages)
	order := []clause.OrderByColumn{
		{Column: clause.Column{Name: column}, Desc: q.Desc},
		{Column: clause.Column{Name: "id"}, Desc: q.Desc},
	}
	err := matching().Preload("Roles", func(db *gorm.DB) *gorm.DB { return db.Order("roles.name") }).
		Order(clause.OrderBy{Columns: order}).Offset((p.Page - 1) * q.PerPage).Limit(q.PerPage).Find(&p.Users).Error
	if err != nil {
		return p, fmt.Errorf("list users: %w", err)
	}
	return p, nil
}

// likeEscaper makes a search plain text in a LIKE pattern whose ESCAPE
// character is "!" (the same on every database, unlike a backslash).
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// validSearch reports whether search is plain text List takes: valid
// UTF-8, no control characters, at most MaxSearch characters.
func validSearch(search string) bool {
	if !utf8.ValidString(search) || utf8.RuneCountInString(search) > MaxSearch {
		return false
	}
	return !strings.ContainsFunc(search, unicode.IsControl)
}

// Roles lists every role by name.
func (s *Service) Roles(ctx context.Context) ([]Role, error) {
	var roles []Role
	if err := s.db.WithContext(ctx).Order("name").Find(&roles).Error; err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	return roles, nil
}

// Stats counts the accounts for the admin dashboard.
type Stats struct {
	Users, Active, Confirmed int64
	// ByRole counts the holders of each role by name.
	ByRole map[string]int64
}

// Stats counts users, active and confirmed ones, and each role's holders.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByRole: map[string]int64{}}
	g := s.db.WithContext(ctx)
	counts := []struct {
		n     *int64
		query *gorm.DB
	}{
		{&st.Users, g.Model(&User{})},
		{&st.Active, g.Model(&User{}).Where("active = ?", true)},
		{&st.Confirmed, g.Model(&User{}).Where("email_confirmed_at IS NOT NULL")},
	}
	for _, c := range counts {
		if err := c.query.Count(c.n).Error; err != nil {
			return st, fmt.Errorf("count users: %w", err)
		}
	}
	var rows []struct {
		Name  string
		Count int64
	}
	err := g.Table("roles").Select("roles.name AS name, COUNT(user_roles.user_id) AS count").
		Joins("LEFT JOIN user_roles ON user_roles.role_id = roles.id").Group("roles.name").Scan(&rows).Error
	if err != nil {
		return st, fmt.Errorf("count roles: %w", err)
	}
	for _, r := range rows {
		st.ByRole[r.Name] = r.Count
	}
	return st, nil
}

// Changes is what an admin edits on an account.
type Changes struct {
	Email  string
	Name   string
	Active bool
	// Confirmed marks the address confirmed (keeping the first time it
	// was) or, false, not confirmed.
	Confirmed bool
	// Roles replace the user's roles; "user" is always kept. So are the
	// DirectoryRoles a directory-managed account holds, listed or not:
	// its directory groups decide them, and listing one it does not hold
	// is ErrDirectoryManaged.
	Roles []string
	// By is the user making the change (an admin in the admin panel), or
	// 0 for an operator (manage): an admin cannot take admin away from,
	// or deactivate, their own account (ErrOwnAccount).
	By uint
}

// Update applies c to user id: email (validated, unique), name, active and
// roles, in one transaction. Deactivating the account ends its sessions.
// A directory-managed account keeps its address and its directory roles
// (ErrDirectoryManaged for a change to either).
func (s *Service) Update(ctx context.Context, id uint, c Changes) (*User, error) {
	email, err := normalizeEmail(c.Email)
	if err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	name := strings.TrimSpace(c.Name)
	if !validName(name) {
		return nil, fmt.Errorf("update user %d: %w", id, ErrInvalidName)
	}
	names := append([]string{RoleUser}, c.Roles...)
	slices.Sort(names)
	names = slices.Compact(names)

	u, err := s.editUser(ctx, id, c.By, func(tx *gorm.DB, u *User) error {
		if c.By == id && u.HasRole(RoleAdmin) && !c.Active {
			return ErrOwnAccount
		}
		if u.Directory() && email != u.Email {
			return fmt.Errorf("%w: its address follows the directory", ErrDirectoryManaged)
		}
		changes := map[string]any{"email": email, "name": name, "active": c.Active, "updated_at": time.Now().UTC()}
		switch {
		case c.Confirmed && u.EmailConfirmedAt == nil:
			changes["email_confirmed_at"] = db.Now()
		case !c.Confirmed:
			changes["email_confirmed_at"] = nil
		}
		if u.Active && !c.Active {
			// Deactivation ends the sessions: reactivating the account
			// must not bring them back.
			changes["session_key"] = newSessionKey()
		}
		if err := tx.Model(&User{}).Where("id = ?", id).Updates(changes).Error; err != nil {
			return err
		}
		return setRoles(tx, u, keepDirectoryRoles(u, names), c.By)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		err = ErrEmailTaken
	}
	if err != nil {
		return nil, fmt.Errorf("update user %d: %w", id, err)
	}
	return u, nil
}

// editUser runs edit on user id, locked and loaded, in one transaction
// that keeps the rule every change of an account keeps: a site with an
// active admin keeps one (ErrLastAdmin), and records in the security
// log what changed, as done by by (an admin, or 0 for an operator). It
// returns the user as the transaction left them. Update and ChangeRoles
// share it, so the admin panel and manage answer alike.
func (s *Service) editUser(ctx context.Context, id, by uint, edit func(tx *gorm.DB, u *User) error) (*User, error) {
	var u *User
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		admins, err := lockAdmins(tx)
		if err != nil {
			return err
		}
		// The row is read and rewritten whole: a directory sign-in
		// changing its roles meanwhile waits, rather than being undone.
		if err := lockUser(tx, id); err != nil {
			return err
		}
		before, err := s.byID(tx, id)
		if err != nil {
			return err
		}
		if err := edit(tx, before); err != nil {
			return err
		}
		if err := anAdminRemains(tx, admins); err != nil {
			return err
		}
		if u, err = s.byID(tx, id); err != nil {
			return err
		}
		return s.recordEdit(ctx, tx, by, before, u)
	})
	return u, err
}

// recordEdit records in the security log, through tx, what changed
// between before and after, done by by (as editUser).
func (s *Service) recordEdit(ctx context.Context, tx *gorm.DB, by uint, before, after *User) error {
	o := changedBy(by)
	var events []seclog.Event
	add := func(kind seclog.Kind, detail string) {
		events = append(events, seclog.Event{UserID: seclog.UserRef(after.ID), ActorID: o.actor(), Kind: kind, Method: o.method, Detail: detail})
	}
	if before.Email != after.Email {
		add(seclog.EmailChanged, "from "+before.Email+" to "+after.Email)
	}
	if before.EmailConfirmedAt == nil && after.EmailConfirmedAt != nil {
		add(seclog.EmailConfirmed, "marked confirmed")
	}
	if added, removed := roleChanges(before.RoleNames(), after.RoleNames()); added != "" || removed != "" {
		var parts []string
		if added != "" {
			parts = append(parts, "added: "+added)
		}
		if removed != "" {
			parts = append(parts, "removed: "+removed)
		}
		add(seclog.RolesChanged, strings.Join(parts, "; "))
	}
	switch {
	case before.Active && !after.Active:
		add(seclog.AccountDeactivated, "every session signed out")
	case !before.Active && after.Active:
		add(seclog.AccountActivated, "")
	}
	for _, e := range events {
		if err := s.Events.Record(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}

// roleChanges lists, comma-separated, the roles of after that before
// lacks and those of before that after lacks.
func roleChanges(before, after []string) (added, removed string) {
	var a, r []string
	for _, n := range after {
		if !slices.Contains(before, n) {
			a = append(a, n)
		}
	}
	for _, n := range before {
		if !slices.Contains(after, n) {
			r = append(r, n)
		}
	}
	return strings.Join(a, ", "), strings.Join(r, ", ")
}

// setRoles makes u, locked by editUser, hold exactly the roles names
// (sorted, no repeats), changed by by (as Changes.By): an admin does not
// take admin from their own account (ErrOwnAccount), and a
// directory-managed account's DirectoryRoles stay as the directory gave
// them (ErrDirectoryManaged).
func setRoles(tx *gorm.DB, u *User, names []string, by uint) error {
	if by == u.ID && u.HasRole(RoleAdmin) && !slices.Contains(names, RoleAdmin) {
		return ErrOwnAccount
	}
	if err := checkDirectoryRoles(u, names); err != nil {
		return err
	}
	roles, err := findRoles(tx, names)
	if err != nil {
		return err
	}
	if err := tx.Where("user_id = ?", u.ID).Delete(&userRole{}).Error; err != nil {
		return err
	}
	if len(roles) == 0 {
		return nil
	}
	links := make([]userRole, len(roles))
	for i, r := range roles {
		links[i] = userRole{UserID: u.ID, RoleID: r.ID}
	}
	return tx.Create(&links).Error
}

// Delete removes user id for by (the admin deleting, or 0 for an
// operator); their roles, tokens and API keys go with them. Nobody
// deletes their own account here (ErrOwnAccount), and the last active
// admin cannot be deleted (ErrLastAdmin).
func (s *Service) Delete(ctx context.Context, by, id uint) error {
	if by == id {
		return fmt.Errorf("delete user %d: %w", id, ErrOwnAccount)
	}
	err := s.Events.Transaction(ctx, s.db, func(tx *gorm.DB) error {
		admins, err := lockAdmins(tx)
		if err != nil {
			return err
		}
		var gone User
		if err := tx.Select("id", "email").Where("id = ?", id).Take(&gone).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		// The picture's files go with the account, through the outbox.
		avatar, err := avatarOf(tx, id)
		if err != nil {
			return err
		}
		if err := storage.Release(tx, AvatarFiles(avatar)...); err != nil {
			return err
		}
		// Recorded before the row goes: the deletion sets the event's
		// user_id to NULL, and the detail keeps who it was.
		o := changedBy(by)
		err = s.Events.Record(ctx, tx, seclog.Event{UserID: seclog.UserRef(id), ActorID: o.actor(), Kind: seclog.AccountDeleted,
			Method: o.method, Detail: gone.Email})
		if err != nil {
			return err
		}
		res := tx.Delete(&User{}, id)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return anAdminRemains(tx, admins)
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}

// lockAdmins serialises the transactions that may take away an admin, so
// that two of them (two admins demoting each other at the same moment)
// cannot each count the other as the admin who remains, and returns how
// many active admins there are. It must be the transaction's first
// statement: MySQL's snapshot starts at the first plain read. SQLite
// needs no lock, its writers being one at a time from BEGIN IMMEDIATE on.
func lockAdmins(tx *gorm.DB) (int64, error) {
	if tx.Dialector.Name() != "sqlite" {
		var r Role
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("name = ?", RoleAdmin).First(&r).Error; err != nil {
			return 0, err
		}
	}
	return activeAdmins(tx)
}

// anAdminRemains fails with ErrLastAdmin when the site had active admins
// (before, as lockAdmins counted them) and has none now. A site with none
// yet, before its first admin is made, is not held to it.
func anAdminRemains(tx *gorm.DB, before int64) error {
	after, err := activeAdmins(tx)
	if err != nil {
		return err
	}
	if before > 0 && after == 0 {
		return ErrLastAdmin
	}
	return nil
}

func activeAdmins(tx *gorm.DB) (int64, error) {
	var n int64
	err := tx.Table("users").Joins("JOIN user_roles ON user_roles.user_id = users.id").
		Joins("JOIN roles ON roles.id = user_roles.role_id").
		Where("roles.name = ? AND users.active = ?", RoleAdmin, true).Count(&n).Error
	return n, err
}
