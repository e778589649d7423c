package cmd_test

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/users"
)

// directoryEnv is dir's Settings as a process environment.
func directoryEnv(dir *testenv.Directory) []string {
	var env []string
	for k, v := range dir.Settings() {
		env = append(env, k+"="+v)
	}
	return env
}

func TestManageLDAPCheck(t *testing.T) {
	needBinaries(t)
	dir := testenv.Slapd(t)
	run := func(stdin string, env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "manage"), args...)
		cmd.Dir = t.TempDir()
		cmd.Env = testenv.BinaryEnv(append([]string{"PATH=" + os.Getenv("PATH")}, env...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	env := directoryEnv(dir)

	code, out := run("", env, "ldap", "check", "--username", "alice")
	for _, want := range []string{
		`directory\s+` + regexp.QuoteMeta(dir.URL) + ` \(service bind as cn=reader,dc=example,dc=org: ok\)`,
		`dn\s+uid=alice,ou=people,dc=example,dc=org`, `email\s+alice@example.org`,
		`groups\s+admins\n`, `roles\s+admin, user`,
	} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("ldap check alice = %d, want %s:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, dir.BindPassword) {
		t.Errorf("the service password was printed:\n%s", out)
	}
	if code, out := run(testenv.DirectoryUsers["carol"]+"\n", env, "ldap", "check", "--username", "carol", "--password-stdin"); code != 0 ||
		!regexp.MustCompile(`roles\s+dev, user`).MatchString(out) || !regexp.MustCompile(`password\s+right`).MatchString(out) {
		t.Errorf("ldap check carol with her password = %d:\n%s", code, out)
	}
	if code, out := run("wrong\n", env, "ldap", "check", "--username", "carol", "--password-stdin"); code != 1 || !strings.Contains(out, "wrong directory password") {
		t.Errorf("ldap check with a wrong password = %d, want 1:\n%s", code, out)
	}
	if code, out := run("", env, "ldap", "check", "--username", "*)(uid=*"); code != 1 || !strings.Contains(out, "no such directory user") {
		t.Errorf("ldap check of a filter = %d, want 1:\n%s", code, out)
	}
	if code, out := run("", env, "ldap", "check", "--username", "dave"); code != 1 || !regexp.MustCompile(`email\s+\(none\)`).MatchString(out) || !strings.Contains(out, "no email address") {
		t.Errorf("ldap check of a user without mail = %d, want 1 showing why:\n%s", code, out)
	}
	bad := append(slicesClone(env), "LDAP_BIND_PASSWORD=not-the-password")
	if code, out := run("", bad, "ldap", "check", "--username", "alice"); code != 1 || !strings.Contains(out, "refused the service account (LDAP_BIND_DN, LDAP_BIND_PASSWORD)") || strings.Contains(out, "not-the-password") {
		t.Errorf("ldap check with a wrong service password = %d, want 1 without the password:\n%s", code, out)
	}
	if code, out := run("", nil, "ldap", "check", "--username", "alice"); code != 1 || !strings.Contains(out, "USER_LDAP is off") {
		t.Errorf("ldap check without USER_LDAP = %d:\n%s", code, out)
	}
	for _, args := range [][]string{{"ldap"}, {"ldap", "check"}, {"ldap", "probe"}} {
		if code, out := run("", env, args...); code != 2 || !strings.Contains(out, "usage:") {
			t.Errorf("manage %v = %d, want 2 with usage:\n%s", args, code, out)
		}
	}

	// manage config lists the directory keys with their sources, the
	// service password redacted.
	code, out = run("", env, "config")
	for _, want := range []string{`USER_LDAP\s+true\s+env`, `LDAP_HOST\s+\S+\s+env`, `LDAP_USERNAME_ATTRIBUTE\s+uid\s+default`, `LDAP_BIND_PASSWORD\s+\S+\s+env`} {
		if code != 0 || !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("manage config = %d, want %s:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, dir.BindPassword) {
		t.Errorf("manage config printed LDAP_BIND_PASSWORD:\n%s", out)
	}
}

// TestManageUserRolesOfADirectoryAccount: `manage user roles` refuses to
// change the roles a directory account's groups give it, saying so in one
// line, and grants it other roles.
func TestManageUserRolesOfADirectoryAccount(t *testing.T) {
	needBinaries(t)
	dir := testenv.Slapd(t)
	work := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(work, "app.db")
	run := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "manage"), args...)
		cmd.Dir = work
		cmd.Env = testenv.BinaryEnv(append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + dbURL}, directoryEnv(dir)...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	if code, out, errOut := run("migrate", "up"); code != 0 {
		t.Fatalf("migrate up = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("role", "add", "support"); code != 0 {
		t.Fatalf("role add = %d:\n%s%s", code, out, errOut)
	}

	// carol signs in once, as the web process would: her account is made
	// with the roles her groups give (dev, user).
	settings := dir.Settings()
	settings["DATABASE_URL"] = dbURL
	cfg, err := config.Load(t.Context(), config.Options{Getenv: func(k string) string { return settings[k] }})
	if err != nil {
		t.Fatal(err)
	}
	client, err := directory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(t.Context(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := users.NewService(d)
	svc.Directory = client
	if _, err := svc.SignIn(t.Context(), "carol", testenv.DirectoryUsers["carol"]); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run("user", "roles", "--email", "carol@example.org")
	if code != 0 || !strings.Contains(out, "carol@example.org (roles: dev, user; directory user carol: admin, dev, user follow the directory's groups)") {
		t.Errorf("user roles of carol = %d:\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--add", "admin"}, "its admin role follows its directory groups (LDAP_GROUP_TO_ROLE_ADMIN), so change it there"},
		{[]string{"--remove", "dev"}, "its dev role follows its directory groups (LDAP_GROUP_TO_ROLE_DEV), so change it there"},
	} {
		args := append([]string{"user", "roles", "--email", "carol@example.org"}, tc.args...)
		code, out, errOut := run(args...)
		if code != 1 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 || out != "" {
			t.Errorf("manage %v = %d, want 1 and one line saying %q:\n%s%s", args, code, tc.want, out, errOut)
		}
	}
	code, out, errOut = run("user", "roles", "--email", "carol@example.org", "--add", "support")
	if code != 0 || !strings.Contains(out, "carol@example.org (roles: dev, support, user; granted support)") {
		t.Errorf("granting carol another role = %d:\n%s%s", code, out, errOut)
	}
	if u, err := svc.ByEmail(t.Context(), "carol@example.org"); err != nil || !slices.Equal(u.RoleNames(), []string{"dev", "support", "user"}) {
		t.Errorf("carol's roles: %+v, %v", u, err)
	}
}
