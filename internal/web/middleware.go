package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/logging"
	"github.com/launchkit/launchkit/internal/seclog"
)

// validRequestID is what a client-sent X-Request-ID must look like to be
// kept; anything else is replaced, so logs cannot be injected into.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,64}$`)

// requestID gives every request an ID: the client's X-Request-ID when
// well-formed, else a new random one. It is echoed in the response and
// carried on every log line of the request.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// withClient records, in the request's context, who sent it (the address
// after TRUSTED_PROXIES, and the user agent), for the security events
// the request's work records (seclog.WithClient).
func (s *Server) withClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := seclog.Client{UserAgent: r.UserAgent()}
		if a := s.clientAddress(r); a.IsValid() {
			c.Address = a.String()
		}
		next.ServeHTTP(w, r.WithContext(seclog.WithClient(r.Context(), c)))
	})
}

// observe logs one line per request when it completes, with the number
// of SQL statements it ran, and records it in the metrics under its route
// pattern.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, queries := db.CountQueries(r.Context())
		r = r.WithContext(ctx)
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		duration := time.Since(start)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" || status == http.StatusNotFound {
			route = unmatched // raw paths would make a label per URL probed
		}
		method := knownMethod(r.Method)
		nameSpan(r, method, route)
		s.metrics.ObserveRequest(r.Context(), method, route, status, duration)
		s.logger.InfoContext(r.Context(), "request",
			"method", r.Method, "path", loggedPath(r), "status", status,
			"bytes", ww.BytesWritten(), "queries", queries.N(), "duration", duration.Round(time.Microsecond))
	})
}

// recoverPanic turns a panic into a logged error with its stack, a report
// to the admins and the error tracker, and a 500 page carrying the
// request ID. The stack reaches the client only in development.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = s.withReportedUser(r)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v) // the server's own signal to drop the connection
			}
			stack := debug.Stack()
			s.logger.ErrorContext(r.Context(), "panic", "method", r.Method, "path", loggedPath(r), "panic", fmt.Sprint(v), "stack", string(stack))
			s.alert(r, fmt.Sprintf("panic: %v\n\n%s", v, stack))
			s.reports.Panic(r.Context(), v, s.reportInfo(r))
			w.Header().Set("Connection", "close")
			page := errorPage{Status: http.StatusInternalServerError}
			if s.cfg.Env == config.EnvDevelopment {
				page.Detail = s.cfg.Scrub(fmt.Sprintf("panic: %v\n\n%s", v, stack))
			}
			s.renderErrorPage(w, r, page)
		}()
		next.ServeHTTP(w, r)
	})
}

// deadline gives each request REQUEST_TIMEOUT for its work: the database,
// Redis and the session store are all asked with its context, so a
// dependency that stops answering costs a 503 at the deadline (see
// respond), not a request that hangs and a connection held for ever. A
// form that carries files (multipart) gets ReadTimeout more, the most
// its body may take to arrive: its work starts once the file is in.
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timeout := s.cfg.RequestTimeout
		if isMultipart(r) {
			timeout += ReadTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// securityHeaders sets the headers every response should carry.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	// The start of a sign-in through a provider is a form whose redirect
	// goes to the provider (sso.go), which form-action must allow.
	csp := "default-src 'self'; img-src 'self' data:" + s.fileOrigin + "; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'" + s.ssoFormTargets
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", csp)
		if s.cfg.IsProduction() {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection rejects cross-site form posts using the browser's
// Sec-Fetch-Site and Origin headers (net/http's CrossOriginProtection), so
// no per-visitor CSRF token, and no session, is needed for it.
func (s *Server) crossOriginProtection(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	for _, origin := range s.cfg.TrustedOrigins {
		// Validated by config; an error here would be a bug, not input.
		if err := cop.AddTrustedOrigin(strings.TrimSuffix(origin, "/")); err != nil {
			s.logger.Error("TRUSTED_ORIGINS: ignoring origin", "origin", origin, "err", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.respond(w, r, errStatus(http.StatusForbidden, "Cross-site request refused."))
	}))
	return cop.Handler(next)
}

// withSession loads and saves the visitor's session around the request.
func (s *Server) withSession(next http.Handler) http.Handler {
	marked := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionLoadedKey{}, true)))
	})
	return s.sessions.LoadAndSave(marked, func(w http.ResponseWriter, r *http.Request, err error) {
		s.respond(w, r, fmt.Errorf("session: %w", err))
	})
}

// privateNoStore is the Cache-Control of every response to a signed-in
// user: no shared cache may keep it (private), and neither may the
// browser, so the back button or the next person at a shared computer
// does not find the account's pages on disk (no-store).
const privateNoStore = "private, no-store"

// responseCacheKey holds, in a page request's context, the
// *responseCache noStoreWhenSignedIn reads when the response starts.
type responseCacheKey struct{}

// responseCache is what noStoreWhenSignedIn needs to know of a response:
// whether it is for a signed-in user (markSignedIn), and the
// Cache-Control a handler chose for it instead (cachePrivately).
type responseCache struct {
	signedIn bool
	private  string
}

// markSignedIn records that r's response is for a signed-in user: loadUser
// calls it when the session has one, startSession when a request signs
// someone in.
func markSignedIn(r *http.Request) {
	if c, ok := r.Context().Value(responseCacheKey{}).(*responseCache); ok {
		c.signedIn = true
	}
}

// cachePrivately gives r's response, when it succeeds (a status below
// 400), the Cache-Control control in place of private, no-store: for the
// few answers to signed-in users that are not pages and are worth
// keeping in the browser (a profile picture, avatar.go). An error page
// still gets no-store.
func cachePrivately(r *http.Request, control string) {
	if c, ok := r.Context().Value(responseCacheKey{}).(*responseCache); ok {
		c.private = control
	}
}

// noStoreWhenSignedIn makes every page response to a signed-in user —
// its redirects and error pages too — Cache-Control: private, no-store,
// unless the handler chose otherwise for a success (cachePrivately).
// It wraps the session middleware so that it has the last word: when the
// session sets a cookie it adds its own no-cache="Set-Cookie", which
// no-store already covers, and the response gets one header, not two.
func (s *Server) noStoreWhenSignedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := new(responseCache)
		hw := &headerHookWriter{ResponseWriter: w, hook: func(status int) {
			switch {
			case !c.signedIn:
			case c.private != "" && status < 400:
				w.Header().Set("Cache-Control", c.private)
			default:
				w.Header().Set("Cache-Control", privateNoStore)
			}
		}}
		next.ServeHTTP(hw, r.WithContext(context.WithValue(r.Context(), responseCacheKey{}, c)))
		hw.runHook(http.StatusOK) // a handler that wrote nothing: its headers are not sent yet
	})
}

// headerHookWriter runs hook once, with the response's status, just
// before its headers are sent.
type headerHookWriter struct {
	http.ResponseWriter
	hook func(status int)
	done bool
}

func (hw *headerHookWriter) runHook(status int) {
	if !hw.done {
		hw.done = true
		hw.hook(status)
	}
}

func (hw *headerHookWriter) WriteHeader(code int) {
	if code >= 200 {
		hw.runHook(code) // not for 1xx informational headers: more follow
	}
	hw.ResponseWriter.WriteHeader(code)
}

func (hw *headerHookWriter) Write(b []byte) (int, error) {
	hw.runHook(http.StatusOK)
	return hw.ResponseWriter.Write(b)
}

// Flush runs the hook, then flushes: a streamed response gets its
// headers too.
func (hw *headerHookWriter) Flush() {
	_ = hw.FlushError()
}

// FlushError is Flush for http.ResponseController.
func (hw *headerHookWriter) FlushError() error {
	hw.runHook(http.StatusOK)
	return http.NewResponseController(hw.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (hw *headerHookWriter) Unwrap() http.ResponseWriter { return hw.ResponseWriter }

// loggedPath is r's path as its log line shows it: with the value of a
// {token} parameter (the mailed reset and confirmation links) replaced,
// since logs are kept and read more widely than the accounts' mail.
func loggedPath(r *http.Request) string {
	path := r.URL.Path
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return path
	}
	for i, key := range rctx.URLParams.Keys {
		if key == "token" && i < len(rctx.URLParams.Values) && rctx.URLParams.Values[i] != "" {
			path = strings.ReplaceAll(path, rctx.URLParams.Values[i], config.Redacted)
		}
	}
	return path
}
