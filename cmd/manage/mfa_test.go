package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/launchkit/launchkit/internal/app"
	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// mfaEnv is the environment of a manage on a migrated SQLite database
// holding ada (admin), grace (dev), linus (user) and ken (admin,
// deactivated), with extra on top.
func mfaEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{"ENV": "test", "DATABASE_URL": testenv.SQLiteURL(t), "SECRET_KEY": strings.Repeat("s", 40)}
	for k, v := range extra {
		env[k] = v
	}
	if code, _, errOut := manage(t, env, "migrate", "up"); code != 0 {
		t.Fatalf("migrate up = %d: %s", code, errOut)
	}
	for _, u := range [][]string{{"ada@example.com", "admin"}, {"grace@example.com", "dev"}, {"linus@example.com", "user"}, {"ken@example.com", "admin"}} {
		if code, _, errOut := manage(t, env, "user", "create", "--email", u[0], "--role", u[1]); code != 0 {
			t.Fatalf("user create %s = %d: %s", u[0], code, errOut)
		}
	}
	svc := usersOf(t, env)
	ken, err := svc.ByEmail(t.Context(), "ken@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(t.Context(), ken.ID, users.Changes{Email: ken.Email, Active: false, Confirmed: true, Roles: ken.RoleNames()}); err != nil {
		t.Fatal(err)
	}
	return env
}

// usersOf is the users service on env's database, as manage builds it.
func usersOf(t *testing.T, env map[string]string) *users.Service {
	t.Helper()
	cfg, d := openDB(t, env)
	return app.NewUsers(cfg, d)
}

// usersDB is env's database.
func usersDB(t *testing.T, env map[string]string) *gorm.DB {
	t.Helper()
	_, d := openDB(t, env)
	return d.Gorm
}

func openDB(t *testing.T, env map[string]string) (*config.Config, *db.DB) {
	t.Helper()
	cfg, err := app.LoadConfig(t.Context(), app.Flags{}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.OpenDB(t.Context(), cfg, app.NewLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return cfg, d
}

// enableTOTP turns on an authenticator app for email.
func enableTOTP(t *testing.T, svc *users.Service, email string) {
	t.Helper()
	ctx := context.Background()
	u, err := svc.ByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	key, err := svc.NewTOTPKey(u, "Launchkit")
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCode(key.Secret(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnableTOTP(ctx, u.ID, key.Secret(), code); err != nil {
		t.Fatal(err)
	}
}

// TestManageUserMFAMissing: the active holders of the roles (admins
// hold every role) without a second factor, one a line; the roles of
// MFA_REQUIRED_ROLES unless --role names others; neither is bad usage.
func TestManageUserMFAMissing(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t, map[string]string{"MFA_REQUIRED_ROLES": "admin"})
	code, out, errOut := manage(t, env, "user", "mfa-missing")
	if code != 0 || out != "ada@example.com (roles: admin, user)\n" || errOut != "" {
		t.Errorf("mfa-missing = %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = manage(t, env, "user", "mfa-missing", "--role", "dev,user")
	if code != 0 || out != "ada@example.com (roles: admin, user)\ngrace@example.com (roles: dev, user)\nlinus@example.com (roles: user)\n" {
		t.Errorf("mfa-missing --role dev,user = %d, stdout %q", code, out)
	}

	enableTOTP(t, usersOf(t, env), "ada@example.com")
	code, out, errOut = manage(t, env, "user", "mfa-missing")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("mfa-missing with every admin covered = %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = manage(t, env, "user", "mfa-missing", "--role", "dev")
	if code != 0 || out != "grace@example.com (roles: dev, user)\n" {
		t.Errorf("mfa-missing --role dev = %d, stdout %q", code, out)
	}

	delete(env, "MFA_REQUIRED_ROLES")
	for _, args := range [][]string{{"user", "mfa-missing"}, {"user", "mfa-missing", "--role", ""}, {"user", "mfa-missing", "admin"}} {
		if code, _, errOut := manage(t, env, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("manage %q = %d, want 2 with usage; stderr %q", args, code, errOut)
		}
	}
	if _, _, errOut := manage(t, env, "user", "mfa-missing"); !strings.HasPrefix(errOut, "manage: user mfa-missing needs --role R, or MFA_REQUIRED_ROLES set\n") {
		t.Errorf("mfa-missing without roles says %q", errOut)
	}
}

// TestManageUserResetSecondFactors: an operator removes the second
// factors of an owner who lost them; the security log records it by
// manage; an unknown address fails, no --email is bad usage.
func TestManageUserResetSecondFactors(t *testing.T) {
	t.Parallel()
	env := mfaEnv(t, nil)
	svc := usersOf(t, env)
	enableTOTP(t, svc, "ada@example.com")

	code, out, errOut := manage(t, env, "user", "reset-second-factors", "--email", "ada@example.com")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "user 1: ada@example.com: second factors reset (authenticator app and 10 recovery codes); signed out everywhere") {
		t.Errorf("reset-second-factors = %d, stdout %q, stderr %q", code, out, errOut)
	}
	ada, err := svc.ByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if f, err := svc.SecondFactors(t.Context(), ada.ID); err != nil || f.Any() || f.RecoveryCodesLeft != 0 {
		t.Errorf("after the reset: %+v, %v", f, err)
	}
	var events []seclog.Event
	if err := usersDB(t, env).Where("kind = ?", seclog.TwoFactorReset).Find(&events).Error; err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || *events[0].UserID != ada.ID || events[0].Method != users.MethodManage || events[0].ActorID != nil {
		t.Errorf("reset events = %+v", events)
	}

	if code, _, errOut := manage(t, env, "user", "reset-second-factors", "--email", "nobody@example.com"); code != 1 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("an unknown user = %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"user", "reset-second-factors"}, {"user", "reset-second-factors", "--email", "ada@example.com", "extra"}} {
		if code, _, errOut := manage(t, env, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("manage %q = %d, want 2 with usage; stderr %q", args, code, errOut)
		}
	}
	if code, out, _ := manage(t, env, "help"); code != 0 || !strings.Contains(out, "user mfa-missing [--role R]...") || !strings.Contains(out, "user reset-second-factors --email E") {
		t.Errorf("help = %d:\n%s", code, out)
	}
}
