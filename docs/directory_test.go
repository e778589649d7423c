package docs_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/testenv"
	"github.com/launchkit/launchkit/internal/web"
)

const directoryGuide = "directory-sign-in.md"

// TestDirectoryGuideExamplesAreValidConfig: each YAML example of the
// guide loads as a configuration (with the password it says to keep
// elsewhere).
func TestDirectoryGuideExamplesAreValidConfig(t *testing.T) {
	blocks := blocksOf(fencedBlocks(t, directoryGuide), "yaml")
	if len(blocks) < 2 {
		t.Fatalf("%s has %d YAML examples, want OpenLDAP and Active Directory", directoryGuide, len(blocks))
	}
	for _, b := range blocks {
		path := filepath.Join(t.TempDir(), "launchkit.yaml")
		if err := os.WriteFile(path, []byte(b.body), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"APPLICATION_SETTINGS": path, "LDAP_BIND_PASSWORD": "from the secret layer"}
		cfg, err := config.Load(t.Context(), config.Options{Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Errorf("%s:%d: %v", directoryGuide, b.line, err)
			continue
		}
		if !cfg.UserLDAP || len(cfg.LDAPGroupToRoleAdmin) == 0 {
			t.Errorf("%s:%d: the example does not turn directory sign-in on with an admin group", directoryGuide, b.line)
		}
	}
}

// TestTheDirectoryGuideWorks follows "Try it against the bundled
// directory": the settings of tools/devldap/launchkit.yaml against the
// directory `make ldap` runs (here on free ports), alice signs in and is
// an admin, bob is not, erin (in no group) is turned away.
func TestTheDirectoryGuideWorks(t *testing.T) {
	dir := testenv.Slapd(t)
	a, _ := testenv.NewApp(t, map[string]string{
		"APPLICATION_SETTINGS": "../tools/devldap/launchkit.yaml",
		"LDAP_HOST":            dir.URL, // the environment wins over the file
	})
	h, err := web.New(a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	signIn := func(uid string) (*http.Client, int) {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		resp, err := c.PostForm(srv.URL+"/user/sign-in", url.Values{"username": {uid}, "password": {testenv.DirectoryUsers[uid]}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return c, resp.StatusCode
	}
	status := func(c *http.Client, path string) int {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	alice, code := signIn("alice")
	if code != http.StatusOK || status(alice, "/admin") != http.StatusOK {
		t.Errorf("alice: sign-in %d, /admin %d; want 200 (after the redirect) and 200", code, status(alice, "/admin"))
	}
	bob, code := signIn("bob")
	if code != http.StatusOK || status(bob, "/admin") != http.StatusForbidden {
		t.Errorf("bob: sign-in %d, /admin %d; want 200 and 403", code, status(bob, "/admin"))
	}
	if _, code := signIn("erin"); code != http.StatusForbidden {
		t.Errorf("erin, in no group: sign-in %d, want 403", code)
	}
	resp, err := http.Get(srv.URL + "/user/sign-in")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	if !strings.Contains(b.String(), `name="username"`) {
		t.Errorf("the sign-in page has no username field:\n%s", b.String())
	}
}
