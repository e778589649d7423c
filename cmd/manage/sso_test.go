package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
)

// manage runs the command line with env as the whole environment and
// returns its exit code, stdout and stderr.
func manage(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	return exitCode(err, &stderr), stdout.String(), stderr.String()
}

func ssoEnv(t *testing.T, providers ...config.OIDCProvider) map[string]string {
	t.Helper()
	raw, err := json.Marshal(providers)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"ENV": "test", "BASE_URL": "https://app.example", "OIDC_PROVIDERS": string(raw)}
}

func TestManageSSOCheck(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	pc := op.Config("corp")
	pc.AllowedDomains = []string{"example.com"}
	pc.GroupsClaim, pc.Roles = "groups", map[string][]string{"admin": {"ops"}}
	op.RotateKey()
	env := ssoEnv(t, pc)

	code, out, errOut := manage(t, env, "sso", "check", "corp")
	if code != 0 || errOut != "" {
		t.Fatalf("sso check corp = %d, stderr %q:\n%s", code, errOut, out)
	}
	for _, want := range []string{
		`provider\s+corp \(button: "Test provider corp"\)`,
		`issuer\s+` + regexp.QuoteMeta(op.URL) + `\n`,
		`authorization\s+` + regexp.QuoteMeta(op.URL+"/authorize"),
		`token\s+` + regexp.QuoteMeta(op.URL+"/token"),
		`jwks\s+` + regexp.QuoteMeta(op.URL+"/jwks"),
		`keys\s+2 \(signing: RS256\)`,
		`redirect URL\s+https://app.example/user/sso/corp/callback`,
		`scopes\s+openid email profile\n`,
		`allowed domains\s+example.com\n`,
		`groups claim\s+groups\n`, `role admin\s+ops\n`,
		`secret set \(not shown\)`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("sso check output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, op.ClientSecret) {
		t.Errorf("the client secret was printed:\n%s", out)
	}
}

func TestManageSSOCheckFailures(t *testing.T) {
	t.Parallel()
	op := testenv.StartOIDCProvider(t)
	env := ssoEnv(t, op.Config("corp"))

	code, out, errOut := manage(t, env, "sso", "check", "nope")
	if code != 1 || out != "" || errOut != "manage: no provider \"nope\" in OIDC_PROVIDERS (configured: corp)\n" {
		t.Errorf("an unknown provider = %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = manage(t, map[string]string{"ENV": "test"}, "sso", "check", "corp")
	if code != 1 || !strings.Contains(errOut, "OIDC_PROVIDERS is empty") {
		t.Errorf("no providers = %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"sso"}, {"sso", "check"}, {"sso", "probe", "corp"}, {"sso", "check", "a", "b"}} {
		if code, _, errOut := manage(t, env, args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("manage %v = %d, want 2 with usage; stderr %q", args, code, errOut)
		}
	}

	op.Close()
	code, out, errOut = manage(t, env, "sso", "check", "corp")
	if code != 1 || !strings.HasPrefix(errOut, "manage: the sign-in provider is unavailable: discovery of "+op.URL) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a provider down = %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "redirect URL") || strings.Contains(out+errOut, op.ClientSecret) {
		t.Errorf("a provider down: the report should still show the local settings, never the secret:\n%s", out)
	}
}

func TestManageConfigRedactsOIDCClientSecrets(t *testing.T) {
	t.Parallel()
	pc := config.OIDCProvider{Name: "corp", Issuer: "https://idp.example.com", ClientID: "launchkit", ClientSecret: "oidc-client-secret-91c2"}
	code, out, errOut := manage(t, ssoEnv(t, pc), "config")
	if code != 0 {
		t.Fatalf("manage config = %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, "oidc-client-secret-91c2") || !strings.Contains(out, `"client_secret":"[redacted]"`) || !strings.Contains(out, `"issuer":"https://idp.example.com"`) {
		t.Errorf("manage config shows OIDC_PROVIDERS as:\n%s", out)
	}
}
