package session_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2/memstore"
	"github.com/alicebob/miniredis/v2"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/testenv"
)

const cookieName = "session"

var testCookie = session.Options{Name: cookieName, Lifetime: time.Hour, IdleTimeout: 30 * time.Minute}

// backend is a session store to run the same tests against.
type backend struct {
	name string
	// open returns an empty store and a function counting the sessions
	// it holds, expired or not.
	open func(t *testing.T) (session.Store, func() int)
}

// backends lists the memory store, a plain scs store (one with no
// conditional write and no context), the database store on each SQL
// dialect and the Redis store.
func backends() []backend {
	listed := func(t *testing.T, store session.Store) (session.Store, func() int) {
		return store, func() int {
			all, err := store.AllCtx(t.Context())
			if err != nil {
				t.Fatalf("list memory sessions: %v", err)
			}
			return len(all)
		}
	}
	bs := []backend{
		{name: "memory", open: func(t *testing.T) (session.Store, func() int) {
			return listed(t, session.NewMemoryStore())
		}},
		{name: "scs-memstore", open: func(t *testing.T) (session.Store, func() int) {
			return listed(t, session.Store{Store: memstore.NewWithCleanupInterval(0)})
		}},
	}
	for _, dialect := range testenv.Dialects {
		bs = append(bs, backend{name: "database/" + dialect.Name, open: func(t *testing.T) (session.Store, func() int) {
			d := testenv.MigratedDB(t, dialect.URL(t))
			store, err := session.NewDatabaseStore(d)
			if err != nil {
				t.Fatalf("NewDatabaseStore: %v", err)
			}
			return store, func() int { return countRows(t, d) }
		}})
	}
	redisBackend := func(url func(t *testing.T) string) func(t *testing.T) (session.Store, func() int) {
		return func(t *testing.T) (session.Store, func() int) {
			client := testenv.RedisClient(t, url(t))
			return session.NewRedisStore(client), func() int {
				keys, err := client.Keys(t.Context(), "scs:session:*").Result()
				if err != nil {
					t.Fatalf("list redis sessions: %v", err)
				}
				return len(keys)
			}
		}
	}
	return append(bs,
		backend{name: "redis", open: redisBackend(func(t *testing.T) string { return testenv.RedisURL(t) })},
		// The in-process Redis that development mode runs; it also keeps
		// the Redis store covered when TEST_REDIS_URL is unset.
		backend{name: "redis/embedded", open: redisBackend(func(t *testing.T) string {
			return "redis://" + miniredis.RunT(t).Addr()
		})},
	)
}

func countRows(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.SQL.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
		t.Fatalf("count sessions: %v", err)
	}
	return n
}

// newApp is a tiny web app using the session the way handlers do.
func newApp(m session.Manager, onError func(http.ResponseWriter, *http.Request, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nothing", func(w http.ResponseWriter, r *http.Request) {
		// Reading, and popping flashes when there are none, are not writes.
		_ = m.GetString(r.Context(), "k")
		_ = session.PopFlashes(r.Context(), m)
		fmt.Fprint(w, "hello, anonymous")
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "k", r.FormValue("v"))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.GetString(r.Context(), "k"))
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		if err := m.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /flash", func(w http.ResponseWriter, r *http.Request) {
		session.AddFlash(r.Context(), m, r.FormValue("kind"), r.FormValue("msg"))
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(session.PopFlashes(r.Context(), m))
	})
	return m.LoadAndSave(mux, onError)
}

// failOnError is the onError of apps whose store should never fail.
func failOnError(t *testing.T) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("%s %s: session store error: %v", r.Method, r.URL.Path, err)
		http.Error(w, "session store failed", http.StatusInternalServerError)
	}
}

// browser sends requests to an app carrying one session cookie, and takes
// the cookie each response sets.
type browser struct {
	t      *testing.T
	app    http.Handler
	cookie *http.Cookie
}

// response is what the browser got back.
type response struct {
	status int
	body   string
	// setCookie is the session cookie the response set, or nil.
	setCookie *http.Cookie
	// setCookies counts the Set-Cookie headers of any name.
	setCookies int
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values) response {
	return b.do(http.MethodPost, path, form)
}

func (b *browser) do(method, path string, form url.Values) response {
	b.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != nil {
		req.AddCookie(&http.Cookie{Name: b.cookie.Name, Value: b.cookie.Value})
	}
	rec := httptest.NewRecorder()
	b.app.ServeHTTP(rec, req)
	res := rec.Result()
	out := response{status: res.StatusCode, body: rec.Body.String(), setCookies: len(res.Header.Values("Set-Cookie"))}
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			out.setCookie = c
			if c.MaxAge < 0 {
				b.cookie = nil
			} else {
				b.cookie = c
			}
		}
	}
	if out.status != http.StatusOK {
		b.t.Errorf("%s %s: status %d, body %q", method, path, out.status, out.body)
	}
	return out
}

func TestManagerOnEveryStore(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			store, count := be.open(t)
			app := newApp(session.NewSCS(store, testCookie), failOnError(t))
			// exists reports whether the store holds live data for token.
			exists := func(token string) bool {
				t.Helper()
				_, ok, err := store.FindCtx(t.Context(), token)
				if err != nil {
					t.Fatalf("Find: %v", err)
				}
				return ok
			}

			t.Run("a request that writes nothing sets no cookie and stores nothing", func(t *testing.T) {
				b := &browser{t: t, app: app}
				res := b.get("/nothing")
				if res.body != "hello, anonymous" {
					t.Errorf("body = %q", res.body)
				}
				if res.setCookies != 0 {
					t.Errorf("response set %d cookies, want none", res.setCookies)
				}
				if n := count(); n != 0 {
					t.Errorf("store holds %d sessions, want 0", n)
				}
			})

			t.Run("a value put in the session is read back on the next request", func(t *testing.T) {
				b := &browser{t: t, app: app}
				start := time.Now()
				res := b.post("/put", url.Values{"v": {"Zoë ☃"}})
				c := res.setCookie
				if c == nil {
					t.Fatal("no session cookie after a Put")
				}
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
					t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v, want true, Lax, /, false",
						c.HttpOnly, c.SameSite, c.Path, c.Secure)
				}
				// The idle timeout (30m), not the lifetime (1h), bounds a fresh session.
				if idle := start.Add(30 * time.Minute); c.Expires.Before(idle.Add(-time.Minute)) || c.Expires.After(idle.Add(time.Minute)) {
					t.Errorf("cookie expires %v, want about %v", c.Expires, idle)
				}
				if !exists(c.Value) {
					t.Error("the store does not hold the new session")
				}
				if got := b.get("/get").body; got != "Zoë ☃" {
					t.Errorf("read back %q, want %q", got, "Zoë ☃")
				}
			})

			t.Run("RenewToken changes the token and retires the old one", func(t *testing.T) {
				b := &browser{t: t, app: app}
				old := b.post("/put", url.Values{"v": {"before sign-in"}}).setCookie
				before := count()
				renewed := b.post("/renew", nil).setCookie
				if renewed == nil || renewed.Value == old.Value {
					t.Fatalf("renew set cookie %v, want a new token (old %q)", renewed, old.Value)
				}
				if got := b.get("/get").body; got != "before sign-in" {
					t.Errorf("after renew read %q, want the data kept", got)
				}
				if exists(old.Value) {
					t.Error("the old token still finds the session in the store")
				}
				stale := &browser{t: t, app: app, cookie: old}
				if got := stale.get("/get").body; got != "" {
					t.Errorf("the old cookie still reads %q", got)
				}
				if n := count(); n != before {
					t.Errorf("store holds %d sessions after renew, want %d", n, before)
				}
			})

			t.Run("Destroy removes the server-side data and expires the cookie", func(t *testing.T) {
				b := &browser{t: t, app: app}
				token := b.post("/put", url.Values{"v": {"secret"}}).setCookie.Value
				before := count()
				c := b.post("/destroy", nil).setCookie
				if c == nil || c.MaxAge >= 0 || c.Value != "" {
					t.Fatalf("destroy set cookie %v, want an empty one with MaxAge<0", c)
				}
				if exists(token) {
					t.Error("the store still holds the destroyed session")
				}
				if n := count(); n != before-1 {
					t.Errorf("store holds %d sessions after destroy, want %d", n, before-1)
				}
				replay := &browser{t: t, app: app, cookie: &http.Cookie{Name: cookieName, Value: token}}
				if got := replay.get("/get").body; got != "" {
					t.Errorf("the destroyed token still reads %q", got)
				}
			})

			t.Run("flashes are shown once, in order", func(t *testing.T) {
				b := &browser{t: t, app: app}
				b.post("/flash", url.Values{"kind": {"success"}, "msg": {"Saved."}})
				b.post("/flash", url.Values{"kind": {"error"}, "msg": {"Zoë's ☃ is too cold."}})
				var got []session.Flash
				if err := json.Unmarshal([]byte(b.get("/flashes").body), &got); err != nil {
					t.Fatal(err)
				}
				want := []session.Flash{{Kind: "success", Message: "Saved."}, {Kind: "error", Message: "Zoë's ☃ is too cold."}}
				if !slices.Equal(got, want) {
					t.Errorf("flashes = %v, want %v", got, want)
				}
				if again := b.get("/flashes").body; strings.TrimSpace(again) != "null" {
					t.Errorf("second pop = %s, want none", again)
				}
			})
		})
	}
}

func TestSecureCookie(t *testing.T) {
	opts := testCookie
	opts.Secure = true
	store := session.NewMemoryStore()
	b := &browser{t: t, app: newApp(session.NewSCS(store, opts), failOnError(t))}
	c := b.post("/put", url.Values{"v": {"x"}}).setCookie
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie = %v, want Secure, HttpOnly, SameSite=Lax", c)
	}
}

func TestPurgeExpired(t *testing.T) {
	for _, dialect := range testenv.Dialects {
		t.Run(dialect.Name, func(t *testing.T) {
			d := testenv.MigratedDB(t, dialect.URL(t))
			store, err := session.NewDatabaseStore(d)
			if err != nil {
				t.Fatalf("NewDatabaseStore: %v", err)
			}
			now := time.Now()
			if err := store.Commit("expired-token", []byte("old"), now.Add(-time.Minute)); err != nil {
				t.Fatalf("Commit expired: %v", err)
			}
			if err := store.Commit("live-token", []byte("new"), now.Add(time.Hour)); err != nil {
				t.Fatalf("Commit live: %v", err)
			}

			n, err := session.NewPurger(d).PurgeExpired(t.Context())
			if err != nil {
				t.Fatalf("PurgeExpired: %v", err)
			}
			if n != 1 {
				t.Errorf("PurgeExpired removed %d, want 1", n)
			}
			if rows := countRows(t, d); rows != 1 {
				t.Errorf("%d rows left, want 1", rows)
			}
			data, ok, err := store.Find("live-token")
			if err != nil || !ok || string(data) != "new" {
				t.Errorf("Find(live-token) = %q, %v, %v; want \"new\", true, nil", data, ok, err)
			}
			if n, err := session.NewPurger(d).PurgeExpired(t.Context()); err != nil || n != 0 {
				t.Errorf("second PurgeExpired = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestStoreFailureGoesToOnError(t *testing.T) {
	d := testenv.MigratedDB(t, testenv.SQLiteURL(t))
	store, err := session.NewDatabaseStore(d)
	if err != nil {
		t.Fatalf("NewDatabaseStore: %v", err)
	}
	var got []error
	onError := func(w http.ResponseWriter, r *http.Request, err error) {
		got = append(got, err)
		http.Error(w, "sessions are unavailable", http.StatusServiceUnavailable)
	}
	app := newApp(session.NewSCS(store, testCookie), onError)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name   string
		req    *http.Request
		cookie bool
	}{
		{"saving a new session", httptest.NewRequest(http.MethodPost, "/put?v=x", nil), false},
		{"loading an existing session", httptest.NewRequest(http.MethodGet, "/get", nil), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			if tt.cookie {
				tt.req.AddCookie(&http.Cookie{Name: cookieName, Value: strings.Repeat("a", 43)})
			}
			rec := httptest.NewRecorder()
			app.ServeHTTP(rec, tt.req)
			if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "sessions are unavailable") {
				t.Errorf("response %d %q, want the onError response", rec.Code, rec.Body)
			}
			if len(got) != 1 || !strings.Contains(got[0].Error(), "database is closed") {
				t.Errorf("onError got %v, want the store's one error", got)
			}
		})
	}
}
