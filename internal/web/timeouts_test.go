package web_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/launchkit/launchkit/internal/testenv"
)

// TestAHungDatabaseIsA503WithinTheDeadline: when PostgreSQL or MySQL stops
// answering (a proxy in front of it freezes), a page that needs it is a
// 503 within REQUEST_TIMEOUT rather than a request hanging for ever, and
// the site recovers by itself once the database answers again.
func TestAHungDatabaseIsA503WithinTheDeadline(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects[1:] {
		t.Run(dialect.Name, func(t *testing.T) {
			direct := dialect.URL(t)
			u, err := url.Parse(direct)
			if err != nil {
				t.Fatal(err)
			}
			port := u.Port()
			if port == "" {
				port = map[string]string{"postgres": "5432", "mysql": "3306"}[dialect.Name]
			}
			proxy := testenv.NewProxy(t, net.JoinHostPort(u.Hostname(), port))
			s := newSite(t, map[string]string{"DATABASE_URL": proxy.URL(t, direct), "REQUEST_TIMEOUT": "1s"})
			me := s.signedIn("ada@example.com")
			me.get("/user/profile").status(200)

			proxy.Freeze()
			for _, path := range []string{"/user/profile", "/"} {
				start := time.Now()
				answered := make(chan *response, 1)
				go func() { answered <- me.send(httptestGet(path)) }()
				select {
				case r := <-answered:
					r.status(503).contains("took too long")
				case <-time.After(10 * time.Second):
					t.Fatalf("%s with the database hung had no answer after 10s", path)
				}
				if took := time.Since(start); took > 3*time.Second {
					t.Errorf("%s with the database hung answered after %s, want about 1s", path, took.Round(time.Millisecond))
				}
			}
			proxy.Thaw()
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := me.send(httptestGet("/user/profile"))
				if r.rec.Code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the site did not recover once the database answered: %d\n%s", r.rec.Code, r.body)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func httptestGet(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
