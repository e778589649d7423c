package web_test

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/launchkit/launchkit/internal/testenv"
)

// storeWrites is the site's count of session-store writes, read from
// /metrics as Prometheus would.
func (s *site) storeWrites() int {
	s.t.Helper()
	body := s.get("/metrics").status(200).body
	total := 0
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "launchkit_session_store_writes_total{") {
			continue
		}
		f := strings.Fields(line)
		n, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			s.t.Fatalf("metrics line %q: %v", line, err)
		}
		total += int(n)
	}
	return total
}

// TestSignedInVisitorCausesNoStoreWrites: after signing in, a visitor
// browsing pages that change nothing costs the session store no write,
// on each store the app can be configured with.
func TestSignedInVisitorCausesNoStoreWrites(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"database", "memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			s := newSite(t, map[string]string{"SESSION_STORE": store})
			v := s.signedIn("ada@example.com", "dev")
			before := s.storeWrites()
			if before == 0 {
				t.Fatal("signing in wrote nothing to the session store: the count is not wired")
			}
			for range 10 {
				v.get("/").status(200).contains("ada@example.com")
				v.get("/user/profile").status(200)
				v.get("/user/apikeys").status(200)
			}
			if n := s.storeWrites() - before; n != 0 {
				t.Errorf("30 signed-in page views wrote to the %s session store %d times, want none", store, n)
			}
			// A request that does change the session still saves it.
			v.post("/user/sign-out").redirectsTo("/")
			if s.storeWrites() == before {
				t.Error("signing out wrote nothing to the session store")
			}
		})
	}
}

// TestAccountChangesApplyOnEveryProcess: two web processes share the
// database (sessions included). An admin's change on one applies to the
// user's very next request on the other: a role taken away, the account
// deactivated, the account deleted.
func TestAccountChangesApplyOnEveryProcess(t *testing.T) {
	t.Parallel()
	shared := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "shared.db")}
	one, two := newSite(t, shared), newSite(t, shared)
	admin := one.signedIn("admin@example.com", "admin")
	dev := one.signedIn("dev@example.com", "dev")
	devOnTwo := two.visitor()
	devOnTwo.cookies = dev.cookies // the load balancer sends the next request to the other process
	devOnTwo.get("/user/apikeys").status(200)

	u, err := one.app.Users.ByEmail(context.Background(), "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	edit := fmt.Sprintf("/admin/users/%d/edit", u.ID)
	admin.post(edit, "email", "dev@example.com", "active", "on").redirectsTo("/admin/users") // no dev role
	devOnTwo.get("/user/apikeys").status(403)
	devOnTwo.get("/user/profile").status(200).contains("dev@example.com")

	admin.post(edit, "email", "dev@example.com", "roles", "dev").redirectsTo("/admin/users") // inactive
	devOnTwo.get("/user/profile").redirectsTo("/user/sign-in?next=%2Fuser%2Fprofile")

	admin.post(edit, "email", "dev@example.com", "active", "on", "roles", "dev").redirectsTo("/admin/users")
	again := two.visitor()
	again.post("/user/sign-in", "email", "dev@example.com", "password", "password for dev@example.com").redirectsTo("/")
	again.get("/user/apikeys").status(200)
	admin.post(fmt.Sprintf("/admin/users/%d/delete", u.ID)).redirectsTo("/admin/users")
	again.get("/user/apikeys").redirectsTo("/user/sign-in?next=%2Fuser%2Fapikeys")
}

// queriesOf is the number of SQL statements the last request to path ran,
// from its request log line.
func (s *site) queriesOf(path string) string {
	s.t.Helper()
	var last string
	for line := range strings.SplitSeq(s.logs.String(), "\n") {
		if strings.Contains(line, "msg=request ") && strings.Contains(line, " path="+path+" ") {
			last = line
		}
	}
	for f := range strings.FieldsSeq(last) {
		if n, ok := strings.CutPrefix(f, "queries="); ok {
			return n
		}
	}
	s.t.Fatalf("no request line for %s with a query count in:\n%s", path, s.logs.String())
	return ""
}

// TestSignedInPageRunsTwoQueries: a signed-in page view reads the session
// and the user with its roles — two statements, on every database — and
// an anonymous one none.
func TestSignedInPageRunsTwoQueries(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			s := newSite(t, map[string]string{"DATABASE_URL": dialect.URL(t)})
			s.visitor().get("/").status(200)
			if n := s.queriesOf("/"); n != "0" {
				t.Errorf("an anonymous home page ran %s queries, want 0", n)
			}
			v := s.signedIn("ada@example.com", "dev")
			v.get("/").status(200).contains("ada@example.com")
			if n := s.queriesOf("/"); n != "2" {
				t.Errorf("a signed-in home page ran %s queries, want 2 (the session, the user with its roles)", n)
			}
		})
	}
}
