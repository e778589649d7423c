// How a handler stops. Every handler has the same shape: it does its
// work and either writes its answer (a page, a redirect, JSON) and
// returns nil, or writes nothing and returns an error. handle adapts it
// to net/http, and respond is the one table that turns an error into a
// response: a status with words for the visitor, or a logged 500.
//
// Helpers a handler calls (parseForm, targetUser, spendGuess, …) follow
// the same rule: they return an error instead of answering, so a handler
// stops with `if err != nil { return err }` and never checks a bool.
//
// Not of this shape, on purpose: the probes and /metrics (health.go),
// which answer every outcome themselves with what a load balancer or a
// scraper reads; static files (http.FileServer's own); the asynqmon
// dashboard, a handler of its own library; and notFound and
// methodNotAllowed, which chi calls as plain handlers and which answer
// through respond.

package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/mail"
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

// errTooMany is a 429 whose Retry-After says, in whole seconds, when the
// spent budget has room again.
func errTooMany(retryAfter time.Duration, message string) error {
	seconds := strconv.Itoa(int(math.Ceil(retryAfter.Seconds())))
	return &statusError{status: http.StatusTooManyRequests, message: message, header: http.Header{"Retry-After": {seconds}}}
}

// errUnauthorized is a 401 with the WWW-Authenticate challenge that
// says how to authenticate (RFC 9110 §11.6.1).
func errUnauthorized(challenge, message string) error {
	return &statusError{status: http.StatusUnauthorized, message: message, header: http.Header{"Www-Authenticate": {challenge}}}
}

// statusFor is the table from the domain's errors to responses: the
// errors any handler may return as they are, without translating them.
// A handler that wants other words for one of them returns errStatus.
// (Refusals a form shows beside a field are formProblems, in helpers.go.)
var statusFor = []refusal{
	{err: users.ErrNotFound, status: http.StatusNotFound},
	{err: users.ErrAPIKeyNotFound, status: http.StatusNotFound, message: "You have no such API key."},

	// Passwords and API keys.
	{err: users.ErrInvalidCredentials, status: http.StatusUnauthorized, message: "The email address or password is not right."},
	{err: users.ErrInvalidAPIKey, status: http.StatusUnauthorized, message: "The API key is not valid: it is unknown or revoked.",
		header: http.Header{"Www-Authenticate": {`Bearer realm="api", error="invalid_token"`}}},
	{err: users.ErrEmailUnconfirmed, status: http.StatusForbidden, message: "Confirm your email address first: follow the link in the email we sent you, or have a new one sent at /user/resend-confirmation."},
	{err: users.ErrAPIKeysNotAllowed, status: http.StatusForbidden, message: "API keys and API access need the " + users.APIKeyRole + " role."},
	// 409, not 429: the account's state refuses a new key, and no
	// amount of waiting changes that; revoking one does.
	{err: users.ErrTooManyAPIKeys, status: http.StatusConflict, message: fmt.Sprintf("This account has %d working API keys, the most it may hold: revoke one at /user/apikeys, then ask again.", users.MaxAPIKeys)},

	// A directory sign-in that cannot go on: the directory is down, or
	// the password was right but the user may not have an account here.
	{err: directory.ErrUnavailable, status: http.StatusServiceUnavailable, message: "The company directory is not answering, so your password cannot be checked right now. Try again in a few minutes."},
	{err: directory.ErrNoEmail, status: http.StatusForbidden, message: "Your directory account has no email address, which every account here needs: ask your directory administrator to add one."},
	{err: directory.ErrNoRole, status: http.StatusForbidden, message: "Your directory account is not in a group allowed to use this site: ask your directory administrator."},
	{err: users.ErrDirectoryEmailTaken, status: http.StatusForbidden, message: "Another account here already has the email address of your directory account: ask an admin of this site to change or remove it."},
	{err: users.ErrDirectoryManaged, status: http.StatusForbidden, message: directoryPasswordMessage},
	{err: users.ErrNoPassword, status: http.StatusForbidden, message: noPasswordMessage},

	// Accounts.
	{err: users.ErrLastAdmin, status: http.StatusBadRequest, message: lastAdminMessage},

	// Links by mail (reset password, confirm email).
	{err: users.ErrTokenExpired, status: http.StatusBadRequest, message: "This link has expired. Ask for a new one."},
	{err: users.ErrTokenUsed, status: http.StatusBadRequest, message: "This link has been used already. Ask for a new one if you need it."},
	{err: users.ErrInvalidToken, status: http.StatusBadRequest, message: "This link is not valid. Check that you copied all of it, or ask for a new one."},

	// The development mail viewer.
	{err: mail.ErrNoMessage, status: http.StatusNotFound, message: "There is no message by that name in the outbox (MAIL_OUTBOX_DIR)."},
	{err: mail.ErrTooLarge, status: http.StatusUnprocessableEntity, message: fmt.Sprintf("The file is too large for this viewer (it reads at most %d MiB): open it in a mail client.", mail.MaxReadBytes>>20)},
	{err: mail.ErrUnreadable, status: http.StatusUnprocessableEntity, message: "The file could not be read as a mail message", detail: true},

	// Resources added by go run ./tools/scaffold.
	// scaffold:errors
}

// refusal is the response to one domain error.
type refusal struct {
	err     error
	status  int
	message string
	// detail: the error's own words follow the message (for errors
	// whose text names only what the visitor asked for, never a secret).
	detail bool
	header http.Header
}

// refusalOf is the entry of statusFor that err is, or nil.
func refusalOf(err error) *refusal {
	if err == nil {
		return nil
	}
	for i := range statusFor {
		if errors.Is(err, statusFor[i].err) {
			return &statusFor[i]
		}
	}
	return nil
}

// directoryPasswordMessage says where a directory user's password is changed.
const directoryPasswordMessage = "Your password is the company directory's: change or reset it there (your IT helpdesk can help)."

// noPasswordMessage says how an account made by a sign-in through a
// provider gets a password.
const noPasswordMessage = "Your account has no password yet: you sign in through a provider. To set one, ask for a link by mail at /user/forgot-password."

// lastAdminMessage refuses a change that would leave no active admin.
const lastAdminMessage = "The site must keep at least one active admin: make someone else an admin first."

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
	if e := refusalOf(err); e != nil {
		for k, v := range e.header {
			w.Header()[k] = v
		}
		message := e.message
		if e.detail {
			message += ": " + err.Error()
		}
		s.renderError(w, r, e.status, message)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads an answer, and it is not
		// the site's failure.
		s.logger.DebugContext(r.Context(), "request canceled by the client", "method", r.Method, "path", loggedPath(r))
		return
	}
	s.serverError(w, r, err)
}
