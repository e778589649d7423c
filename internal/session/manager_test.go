package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/launchkit/launchkit/internal/session"
)

// managers returns each Manager implementation, new, by name.
func managers(t *testing.T) map[string]session.Manager {
	return map[string]session.Manager{
		"scs":    session.NewSCS(session.NewMemoryStore(), testCookie),
		"cookie": cookieManager(t, testCookie, newKey),
	}
}

// TestRemoveForgetsOneValue: Remove takes one value out of the session
// and keeps the others; removing a value the session does not hold
// changes nothing, so the response sets no cookie.
func TestRemoveForgetsOneValue(t *testing.T) {
	for name, m := range managers(t) {
		t.Run(name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
				m.Put(r.Context(), "k", "kept")
				m.Put(r.Context(), "gone", int64(7))
			})
			mux.HandleFunc("POST /remove", func(w http.ResponseWriter, r *http.Request) {
				m.Remove(r.Context(), r.FormValue("key"))
			})
			mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "%v %v %v", m.Get(r.Context(), "k"), m.Get(r.Context(), "gone"), m.Exists(r.Context(), "gone"))
			})
			b := &browser{t: t, app: m.LoadAndSave(mux, failOnError(t))}
			b.post("/put", nil)
			if got := b.get("/get").body; got != "kept 7 true" {
				t.Fatalf("after put: %q", got)
			}
			if res := b.post("/remove", url.Values{"key": {"gone"}}); res.setCookie == nil {
				t.Error("removing a value set no cookie: the change is lost")
			}
			if got := b.get("/get").body; got != "kept <nil> false" {
				t.Errorf("after remove: %q, want the other value kept", got)
			}
			if res := b.post("/remove", url.Values{"key": {"never-put"}}); res.setCookies != 0 {
				t.Errorf("removing an absent value set %d cookies, want none", res.setCookies)
			}
		})
	}
}

// TestFlushSendsTheCookieOnEveryManager: a stream flushed before its body,
// through http.ResponseController or the older http.Flusher, still saves
// the session and sends its cookie first, on both managers.
func TestFlushSendsTheCookieOnEveryManager(t *testing.T) {
	flushes := map[string]func(w http.ResponseWriter) error{
		"ResponseController": func(w http.ResponseWriter) error { return http.NewResponseController(w).Flush() },
		"http.Flusher": func(w http.ResponseWriter) error {
			f, ok := w.(http.Flusher)
			if !ok {
				return fmt.Errorf("%T is not an http.Flusher", w)
			}
			f.Flush()
			return nil
		},
	}
	for name, m := range managers(t) {
		for how, flush := range flushes {
			t.Run(name+"/"+how, func(t *testing.T) {
				h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					m.Put(r.Context(), "k", "streamed")
					if err := flush(w); err != nil {
						t.Errorf("flush: %v", err)
					}
					fmt.Fprint(w, "data")
				}), failOnError(t))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stream", nil))
				if !rec.Flushed || rec.Body.String() != "data" {
					t.Errorf("flushed %v, body %q", rec.Flushed, rec.Body.String())
				}
				var c *http.Cookie
				for _, rc := range rec.Result().Cookies() {
					if rc.Name == cookieName {
						c = rc
					}
				}
				if c == nil {
					t.Fatal("a response flushed before its body carried no session cookie")
				}
				b := &browser{t: t, app: newApp(m, failOnError(t)), cookie: c}
				if got := b.get("/get").body; got != "streamed" {
					t.Errorf("the flushed request's session reads %q", got)
				}
			})
		}
	}
}
