package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/alerts"
	"github.com/launchkit/launchkit/internal/errreport"
	"github.com/launchkit/launchkit/internal/logging"
	"github.com/launchkit/launchkit/internal/telemetry"
	"github.com/launchkit/launchkit/internal/users"
)

// errorPage is the data of templates/errors/error.html and, reduced to
// status and message, of the JSON error body.
type errorPage struct {
	Status    int
	Title     string
	Message   string
	RequestID string
	// TraceID is the request's trace (5xx only), "" when tracing is off:
	// with the request ID, what an operator searches the traces for.
	TraceID string
	Detail  string // development only: the panic and its stack
	// Back is the page of this site the visitor came from (the
	// Referer's path and query), "" when unknown or elsewhere.
	Back string
}

// messages are the default words for each status the site renders.
var messages = map[int]string{
	http.StatusBadRequest:            "The request could not be understood.",
	http.StatusUnauthorized:          "You need to sign in to see this.",
	http.StatusForbidden:             "You do not have permission to see this.",
	http.StatusNotFound:              "There is no page at this address.",
	http.StatusMethodNotAllowed:      "This address does not accept that method.",
	http.StatusRequestEntityTooLarge: "The request is too large.",
	http.StatusTooManyRequests:       "Too many requests. Please wait a moment and try again.",
	http.StatusInternalServerError:   "Something went wrong on our side. It has been logged.",
	http.StatusServiceUnavailable:    "The service is temporarily unavailable. Please try again shortly.",
}

// renderError is the one place every error response is written: an HTML
// page in the site layout, or JSON under /api/ and for clients that ask
// for it. message may be empty for the status's default words.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	s.renderErrorPage(w, r, errorPage{Status: status, Message: message})
}

func (s *Server) renderErrorPage(w http.ResponseWriter, r *http.Request, p errorPage) {
	if p.Message == "" {
		p.Message = messages[p.Status]
	}
	if p.Message == "" {
		p.Message = http.StatusText(p.Status)
	}
	p.Title = http.StatusText(p.Status)
	if p.Status >= 500 {
		p.RequestID = logging.RequestID(r.Context())
		p.TraceID = telemetry.TraceID(r.Context())
	}
	addVary(w.Header(), "Accept") // JSON or HTML: wantsJSON
	if wantsJSON(r) {
		writeJSONError(w, p)
		return
	}
	if p.Back = backLink(r); p.Back != "" {
		// The link is this visitor's (their Referer): no cache keeps it.
		w.Header().Set("Cache-Control", "no-store")
	}
	if err := s.render(w, r, p.Status, "errors/error.html", p); err != nil {
		// The error page itself failed: fall back to plain text.
		s.logger.ErrorContext(r.Context(), "render error page", "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(p.Status)
		fmt.Fprintf(w, "%d %s\n%s\n", p.Status, p.Title, p.Message)
	}
}

// backLink is the error page's way back: the Referer when it is a page
// of this site other than this one and the home page, as a local path
// (never another site's address), else "". A missing static file (asked
// for by a stylesheet or a stale page, not followed from a link) has
// none, and neither has a page whose address holds a token.
func backLink(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/static/") {
		return ""
	}
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || (ref.Scheme != "http" && ref.Scheme != "https") || ref.Path == r.URL.Path {
		return ""
	}
	for _, secret := range []string{"/user/reset-password/", "/user/confirm-email/"} {
		if strings.HasPrefix(ref.Path, secret) {
			return ""
		}
	}
	if back := localPath(ref.RequestURI()); back != "/" {
		return back
	}
	return "" // the home page has its own link
}

func writeJSONError(w http.ResponseWriter, p errorPage) {
	body := map[string]any{"status": p.Status, "message": p.Message}
	if p.RequestID != "" {
		body["request_id"] = p.RequestID
	}
	if p.TraceID != "" {
		body["trace_id"] = p.TraceID
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

// serverError logs err once, with the request ID, and renders a 500:
// respond's answer to an error no table knows.
//
// Work cut short by the request's deadline (REQUEST_TIMEOUT: a database or
// Redis that stopped answering) is a 503, which says "try again", not a
// 500.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.DeadlineExceeded) || (errors.Is(r.Context().Err(), context.DeadlineExceeded) && !errors.Is(err, context.Canceled)) {
		s.logger.ErrorContext(r.Context(), "request deadline exceeded", "method", r.Method, "path", loggedPath(r), "err", err)
		s.renderError(w, r, http.StatusServiceUnavailable, "This took too long: something the site depends on is slow to answer. Try again in a moment.")
		return
	}
	s.logger.ErrorContext(r.Context(), "server error", "method", r.Method, "path", loggedPath(r), "err", err)
	s.alert(r, err.Error())
	s.reports.Error(r.Context(), err, s.reportInfo(r))
	s.renderError(w, r, http.StatusInternalServerError, "")
}

// alert mails the admins about a request that failed (EMAIL_ERRORS).
func (s *Server) alert(r *http.Request, err string) {
	where := r.Method + " " + r.URL.Path
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		where = r.Method + " " + rc.RoutePattern()
	}
	s.alerts.Report(r.Context(), alerts.Alert{Kind: "request", ID: logging.RequestID(r.Context()), Where: where, Err: err})
}

// reportInfo is what an error report says of a request: its ID, route and
// signed-in user. Never its path: a path can hold a token
// (/user/reset-password/{token}).
func (s *Server) reportInfo(r *http.Request) errreport.Info {
	info := errreport.Info{Kind: "request", ID: logging.RequestID(r.Context()), Where: r.Method}
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		info.Where = r.Method + " " + rc.RoutePattern()
	}
	if u := currentUser(r); u != nil {
		info.UserID = strconv.FormatUint(uint64(u.ID), 10)
	} else if id := reportedUserID(r.Context()); id != 0 {
		info.UserID = strconv.FormatUint(uint64(id), 10)
	}
	return info
}

// reportedUserKey holds, in a request's context, the *reportedUser that
// loadUser and requireAPIKey fill in: recoverPanic's request is the one
// from before the user was known, so it reads the user from there.
type reportedUserKey struct{}

type reportedUser struct{ id uint }

// withReportedUser gives r a place for the user's ID, when errors are
// reported (SENTRY_DSN): nothing is added to a request otherwise.
func (s *Server) withReportedUser(r *http.Request) *http.Request {
	if s.reports == nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), reportedUserKey{}, &reportedUser{}))
}

// noteReportedUser records u as the request's user for an error report
// (nothing, not even the lookup, when errors are not reported).
func (s *Server) noteReportedUser(ctx context.Context, u *users.User) {
	if s.reports == nil {
		return
	}
	if ru, ok := ctx.Value(reportedUserKey{}).(*reportedUser); ok {
		ru.id = u.ID
	}
}

func reportedUserID(ctx context.Context) uint {
	if ru, ok := ctx.Value(reportedUserKey{}).(*reportedUser); ok {
		return ru.id
	}
	return 0
}

// wantsJSON decides the error format: JSON for the API and for clients
// that accept JSON but not HTML.
func wantsJSON(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/api" {
		return true
	}
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// asPage gives h, an error answer to an address no route takes, what the
// pages get: the session, read (a visitor's is never created, so no
// cookie is set) and the signed-in user, so that their 404 or 405 keeps
// the app shell and is not cached. The API's answers, JSON, need neither.
func (s *Server) asPage(h http.HandlerFunc) http.HandlerFunc {
	page := s.noStoreWhenSignedIn(s.withSession(s.loadUser(h)))
	return func(w http.ResponseWriter, r *http.Request) {
		// Under /user and /admin chi answers inside the routes that
		// have loaded the session already: it is not loaded twice.
		if wantsJSON(r) || hasSession(r.Context()) {
			h(w, r)
			return
		}
		page.ServeHTTP(w, r)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.respond(w, r, errNotFound)
}

// methodNotAllowed renders a 405 with the Allow header listing the
// methods the path does accept.
func (s *Server) methodNotAllowed(routes chi.Routes) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		err := &statusError{status: http.StatusMethodNotAllowed}
		if len(allowed) > 0 {
			err.header = http.Header{"Allow": {strings.Join(allowed, ", ")}}
		}
		s.respond(w, r, err)
	}
}
