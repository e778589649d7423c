package redisconn_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/redisconn"
)

// TestParseReadsBothForms: one server, and a primary behind Sentinels
// (the default Sentinel port added where none is given), named without
// their passwords.
func TestParseReadsBothForms(t *testing.T) {
	for _, tc := range []struct{ url, names string }{
		{"redis://:pw-secret@cache:6380/2", "cache:6380"},
		{"rediss://user:pw-secret@cache:6379", "cache:6379"},
		{"redis+sentinel://:pw-secret@s1,s2:26380/mymaster/3?sentinel_password=sp-secret", `the primary "mymaster" of Sentinels s1:26379,s2:26380`},
	} {
		target, err := redisconn.Parse(tc.url)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.names, err)
			continue
		}
		if got := target.String(); got != tc.names {
			t.Errorf("Parse(…).String() = %q, want %q", got, tc.names)
		}
	}
}

// TestParseErrorsNeverQuoteTheURL: REDIS_URL may hold a password, and a
// parse error ends up in the logs and on the terminal. Each of these
// URLs is wrong (often because the password's characters were not
// %-escaped), and its error says what is wrong without any of the
// password.
func TestParseErrorsNeverQuoteTheURL(t *testing.T) {
	for _, tc := range []struct{ url, says string }{
		{"redis://u:s3cret%zz@cache:6379/0", "invalid URL escape"},
		{"redis+sentinel://u:s3cret%zz@s1:26379/mymaster", "invalid URL escape"},
		{"redis://u:s3cret/x@cache:6379/0", "invalid port"},
		{"redis+sentinel://u:s3cret/x@s1:26379/mymaster", "invalid port"},
		{"redis://u:s3cret@[::1/0", "missing ']' in host"},
		{"redis+sentinel://u:s3cret@[::1/mymaster", "missing ']' in host"},
		{"redis://u:s3cret@cache:6379/x", "invalid database number"},
		{"redis+sentinel://u:s3cret@s1/mymaster/x", "only a database number"},
		{"redis+sentinel://u:s3cret@/mymaster", "needs the Sentinels' host:port list"},
		// A password whose first reserved character comes after what
		// looks like a port (nothing, or digits) parses as a URL: the
		// rest of it lands in the path, the query or the fragment.
		{"redis://default:/Kq9s3cret+x@redis.internal:6379/0", "must be %-escaped"},
		{"redis://:1234/s3cret@h:6379", "must be %-escaped"},
		{"redis://:12?s3cret@h:6379", "must be %-escaped"},
		{"redis://:12#s3cret@h:6379", "must be %-escaped"},
		{"redis+sentinel://:/Kq9s3cret@s1:26379/mymaster/0", "must be %-escaped"},
		{"redis+sentinel://s1:26379/mymaster/s3cret", "only a database number"},
	} {
		_, err := redisconn.Parse(tc.url)
		if err == nil {
			t.Errorf("Parse accepted a bad URL (%s)", tc.says)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "s3cret") || strings.Contains(msg, "%zz") {
			t.Errorf("Parse error quotes the URL's password: %s", msg)
		}
		if !strings.HasPrefix(msg, "REDIS_URL: ") || !strings.Contains(msg, tc.says) {
			t.Errorf("Parse error = %q, want REDIS_URL: … %s", msg, tc.says)
		}
	}
}

// TestAProductionBuildLinksNoEmbeddedRedis: built with -tags nodev, the
// web binary has no miniredis and no Lua interpreter; built without, it
// has them (so that this test would notice them).
func TestAProductionBuildLinksNoEmbeddedRedis(t *testing.T) {
	deps := func(tags ...string) string {
		t.Helper()
		out, err := exec.Command("go", append(append([]string{"list", "-deps"}, tags...), "github.com/launchkit/launchkit/cmd/web")...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	for _, pkg := range []string{"github.com/alicebob/miniredis/v2", "github.com/yuin/gopher-lua"} {
		if !strings.Contains(deps(), pkg+"\n") {
			t.Errorf("the development build of cmd/web does not link %s: the embedded Redis moved?", pkg)
		}
		if strings.Contains(deps("-tags", "nodev"), pkg) {
			t.Errorf("cmd/web built with -tags nodev links %s", pkg)
		}
	}
	// The nodev side compiles (and its own test runs with go test -tags nodev).
	if out, err := exec.Command("go", "vet", "-tags", "nodev", ".").CombinedOutput(); err != nil {
		t.Errorf("go vet -tags nodev: %v\n%s", err, out)
	}
}
