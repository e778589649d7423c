package users

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The roles migration 00002_users creates. Admins hold every role.
const (
	RoleAdmin = "admin"
	RoleDev   = "dev"
	RoleUser  = "user"
)

// Role errors, wrapped with context; test for them with errors.Is.
var (
	// ErrUnknownRole: no role has that name.
	ErrUnknownRole = errors.New("unknown role")
	// ErrRoleExists: a role with that name already exists.
	ErrRoleExists = errors.New("role already exists")
	// ErrInvalidRoleName: role names are 1 to 50 lower-case letters,
	// digits, '-' or '_'.
	ErrInvalidRoleName = errors.New("role names are 1 to 50 lower-case letters, digits, '-' or '_'")
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

// Grant gives the user with that email the role; granting a role the
// user already holds is not an error.
func (s *Service) Grant(ctx context.Context, email, role string) error {
	key := strings.ToLower(strings.TrimSpace(email))
	g := s.db.WithContext(ctx)
	u, err := s.byEmail(g, key)
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", role, key, err)
	}
	roles, err := findRoles(g, []string{role})
	if err != nil {
		return fmt.Errorf("grant %s to %s: %w", role, key, err)
	}
	// ON CONFLICT DO NOTHING: granting a role the user holds is a no-op.
	link := userRole{UserID: u.ID, RoleID: roles[0].ID}
	if err := g.Clauses(clause.OnConflict{DoNothing: true}).Create(&link).Error; err != nil {
		return fmt.Errorf("grant %s to %s: %w", role, key, err)
	}
	return nil
}

// findRoles loads the roles named names, or fails with ErrUnknownRole
// naming the ones that do not exist.
func findRoles(g *gorm.DB, names []string) ([]Role, error) {
	var roles []Role
	if err := g.Where("name IN ?", names).Order("name").Find(&roles).Error; err != nil {
		return nil, err
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
