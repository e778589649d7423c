// How a handler stops. Every handler has the same shape: it does its
// work and either writes its answer (a page, a redirect, JSON) and
// returns nil, or writes nothing and returns an error. handle adapts it
// to net/http, and respond is the one table that turns an error into a
// response: a status with words for the visitor, or a logged 500.
//
// Helpers a handler calls (parseForm, targetUser, spendGuess, …) follow
// the same rule: they return an error instead of answering, so a handler
// stops with `if err != nil { return err }` and never checks a bool.

package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// handlerFunc is a handler that returns its failure instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to net/http: an error h returns is answered by respond.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.respond(w, r, err)
		}
	}
}

// statusError is an error that is already a response: a status and, when
// not empty, the words the visitor reads (else the status's default
// words in errors.go). Headers, when set, go with it (Retry-After, …).
type statusError struct {
	status  int
	message string
	header  http.Header
}

func (e *statusError) Error() string {
	if e.message != "" {
		return http.StatusText(e.status) + ": " + e.message
	}
	return http.StatusText(e.status)
}

// errStatus is a response with the given status and words ("" for the
// default words of the status).
func errStatus(status int, message string) error {
	return &statusError{status: status, message: message}
}

// errNotFound is the 404 of a page or record that is not there (or not
// the visitor's: the two answer alike).
var errNotFound = errStatus(http.StatusNotFound, "")

// statusFor is the table from the domain's errors to responses: the
// errors any handler may return as they are, without translating them.
// A handler that wants other words for one of them returns errStatus.
var statusFor = []struct {
	err     error
	status  int
	message string
}{
	{users.ErrNotFound, http.StatusNotFound, ""},
	{users.ErrAPIKeyNotFound, http.StatusNotFound, ""},
	// scaffold:errors
}

// respond answers a handler's error: a statusError as it says, a domain
// error by the table above, work cut short by the request's deadline
// with 503, and anything else with a logged (and, with EMAIL_ERRORS,
// mailed) 500.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, err error) {
	var se *statusError
	if errors.As(err, &se) {
		for k, v := range se.header {
			w.Header()[k] = v
		}
		s.renderError(w, r, se.status, se.message)
		return
	}
	for _, e := range statusFor {
		if errors.Is(err, e.err) {
			s.renderError(w, r, e.status, e.message)
			return
		}
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads an answer, and it is not
		// the site's failure.
		s.logger.DebugContext(r.Context(), "request canceled by the client", "method", r.Method, "path", r.URL.Path)
		return
	}
	s.serverError(w, r, err)
}
