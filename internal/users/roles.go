package users

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// The roles migration 00002_users creates. Admins hold every role.
const (
	RoleAdmin = "admin"
	RoleDev   = "dev"
	RoleUser  = "user"
)

// Role is a named permission; users hold any number of them.
type Role struct {
	ID   uint
	Name string
}

// userRole is a row of user_roles, the join table of User.Roles.
type userRole struct {
	UserID uint `gorm:"primaryKey;autoIncrement:false"`
	RoleID uint `gorm:"primaryKey;autoIncrement:false"`
}

func (userRole) TableName() string { return "user_roles" }

var roleName = regexp.MustCompile(`^[a-z0-9_-]{1,50}$`)

// AddRole creates a role.
func (s *Service) AddRole(ctx context.Context, name string) (*Role, error) {
	if !roleName.MatchString(name) {
		return nil, fmt.Errorf("add role %q: %w", name, ErrInvalidRoleName)
	}
	r := &Role{Name: name}
	if err := s.db.WithContext(ctx).Create(r).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			err = ErrRoleExists
		}
		return nil, fmt.Errorf("add role %s: %w", name, err)
	}
	return r, nil
}

// RoleChange grants and takes away roles of one account.
type RoleChange struct {
	// Add are the roles to grant; one the user holds already is left as
	// it is.
	Add []string
	// Remove are the roles to take away; one the user does not hold is
	// left as it is.
	Remove []string
	// By is the user making the change, as in Changes: an admin in the
	// admin panel, or 0 for an operator (manage).
	By uint
}

// ChangeRoles grants and takes away roles of user id in one transaction,
// under the rules Update keeps: the site keeps an active admin
// (ErrLastAdmin), an admin does not take admin from their own account
// (ErrOwnAccount), and the roles the directory decides for a
// directory-managed account (DirectoryRoles) are not changed here
// (ErrDirectoryManaged), though other roles are granted to it as to any.
// Every role named must exist (ErrUnknownRole); the user role stays
// (ErrUserRoleKept); a role both added and removed is refused. The user's
// sessions and API keys go on, with the new roles from their next request.
func (s *Service) ChangeRoles(ctx context.Context, id uint, c RoleChange) (*User, error) {
	for _, r := range c.Remove {
		if r == RoleUser {
			return nil, fmt.Errorf("change roles of user %d: %w", id, ErrUserRoleKept)
		}
		if slices.Contains(c.Add, r) {
			return nil, fmt.Errorf("change roles of user %d: the %s role is both added and removed", id, r)
		}
	}
	u, err := s.editUser(ctx, id, c.By, func(tx *gorm.DB, u *User) error {
		// Every name is checked, the removed ones too: a mistyped role
		// must not pass for one the user does not hold.
		if _, err := findRoles(tx, slices.Concat(c.Add, c.Remove)); err != nil {
			return err
		}
		names := slices.DeleteFunc(slices.Concat(u.RoleNames(), c.Add), func(r string) bool { return slices.Contains(c.Remove, r) })
		slices.Sort(names)
		return setRoles(tx, u, slices.Compact(names), c.By)
	})
	if err != nil {
		return nil, fmt.Errorf("change roles of user %d: %w", id, err)
	}
	return u, nil
}

// findRoles loads the roles named names, or fails with ErrUnknownRole
// naming the ones that do not exist.
func findRoles(g *gorm.DB, names []string) ([]Role, error) {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	var roles []Role
	// A name no role can have (PostgreSQL refuses a NUL byte in a query)
	// is not looked for.
	valid := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return !roleName.MatchString(n) })
	if len(valid) > 0 {
		if err := g.Where("name IN ?", valid).Order("name").Find(&roles).Error; err != nil {
			return nil, err
		}
	}
	if len(roles) == len(names) {
		return roles, nil
	}
	var missing []string
	for _, n := range names {
		if !slices.ContainsFunc(roles, func(r Role) bool { return r.Name == n }) {
			missing = append(missing, n)
		}
	}
	return nil, fmt.Errorf("%w %s", ErrUnknownRole, strings.Join(missing, ", "))
}
