package users_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

// withEvents gives s a security log on d, returning what it logs.
func withEvents(s *users.Service, d *db.DB) *bytes.Buffer {
	var lines bytes.Buffer
	s.Events = seclog.New(d.Gorm, slog.New(slog.NewTextHandler(&lines, nil)), nil)
	return &lines
}

// lastEvent is the newest event of the log.
func lastEvent(t *testing.T, s *users.Service) seclog.Entry {
	t.Helper()
	p, err := s.Events.List(t.Context(), seclog.Filter{}, 1, 1)
	if err != nil || len(p.Entries) != 1 {
		t.Fatalf("no event: %v", err)
	}
	return p.Entries[0]
}

func TestDirectorySignInsAreRecorded(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := seclog.WithClient(t.Context(), seclog.Client{Address: "198.51.100.4", UserAgent: "test"})
		lines := withEvents(s, d)
		dir := withDirectory(s)
		dir.add("alice", "alice@example.org", "alice-pw", "admin")

		u, err := s.SignIn(ctx, "alice", "alice-pw")
		if err != nil {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.SignIn || e.Method != users.MethodDirectory || e.UserID == nil || *e.UserID != u.ID || e.Address != "198.51.100.4" {
			t.Errorf("sign-in = %+v", e)
		}
		if _, err := s.SignIn(ctx, "alice", "not-alice-pw"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.SignInFailed || e.Detail != "wrong password" || e.UserID == nil || *e.UserID != u.ID {
			t.Errorf("wrong password = %+v", e)
		}
		if _, err := s.SignInForAPI(ctx, "mallory-pw-typed-here", "x"); !errors.Is(err, users.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.SignInFailed || e.Method != users.MethodAPI || e.Detail != "directory: unknown account" || e.UserID != nil {
			t.Errorf("unknown name = %+v", e)
		}
		dir.refuse["alice"] = directory.ErrNoRole
		if _, err := s.SignIn(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrNoRole) {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.SignInFailed || e.Detail != "in no directory group allowed to sign in" || e.UserID == nil {
			t.Errorf("no role = %+v", e)
		}
		// The directory's roles taken away were recorded before it.
		p, _ := s.Events.List(context.Background(), seclog.Filter{Kind: seclog.RolesChanged}, 1, 10)
		if p.Total != 1 || p.Entries[0].Method != users.MethodDirectory {
			t.Errorf("roles changed = %+v", p)
		}
		dir.down = true
		if _, err := s.SignIn(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrUnavailable) {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.SignInFailed || e.Detail != "directory unavailable" {
			t.Errorf("directory down = %+v", e)
		}
		for _, secret := range []string{"alice-pw", "mallory-pw-typed-here"} {
			if strings.Contains(lines.String(), secret) {
				t.Errorf("the log holds %q:\n%s", secret, lines)
			}
		}
	})
}

// A change whose transaction fails records nothing: here the last
// admin's role, refused at the end of the transaction that recorded it.
func TestARolledBackChangeHasNoEvent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, s *users.Service, d *db.DB) {
		ctx := t.Context()
		withEvents(s, d)
		admin := mustCreate(t, s, "admin@example.com", users.RoleAdmin)
		_, err := s.ChangeRoles(ctx, admin.ID, users.RoleChange{Remove: []string{users.RoleAdmin}})
		if !errors.Is(err, users.ErrLastAdmin) {
			t.Fatal(err)
		}
		_, err = s.Update(ctx, admin.ID, users.Changes{Email: "admin@example.com", Active: false, Roles: []string{users.RoleAdmin}})
		if !errors.Is(err, users.ErrLastAdmin) {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.AccountCreated {
			t.Errorf("newest event = %+v, want the account's creation", e)
		}
		if _, err := s.ChangeRoles(ctx, admin.ID, users.RoleChange{Add: []string{users.RoleDev}}); err != nil {
			t.Fatal(err)
		}
		if e := lastEvent(t, s); e.Kind != seclog.RolesChanged || e.Detail != "added: dev" || e.Method != users.MethodManage || e.ActorID != nil {
			t.Errorf("roles changed = %+v", e)
		}
	})
}
