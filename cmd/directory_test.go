package cmd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/testenv"
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
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
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
