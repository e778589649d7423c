// What every handler uses beside render (render.go) and the error
// renderer (errors.go): reading forms and sending them back with their
// problems.

package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// maxFormBytes bounds a form post; more is answered with 413.
const maxFormBytes = 64 << 10

// form is a submitted form: its values, to show again, and the problems
// found, by field ("" for the form as a whole).
type form struct {
	Values map[string]string
	Errors map[string]string
}

// parseForm reads the posted fields: a form too large is a 413, one
// that cannot be read, or holds text db.PlainText refuses, a 400.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, fields ...string) (*form, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "")
		}
		return nil, errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	for _, values := range r.PostForm {
		for _, v := range values {
			if !db.PlainText(v) {
				return nil, errStatus(http.StatusBadRequest, badTextMessage)
			}
		}
	}
	f := newForm()
	for _, name := range fields {
		f.Values[name] = r.PostForm.Get(name)
	}
	return f, nil
}

// pathID reads the path parameter name as a record's ID: anything but a
// positive integer that a BIGINT holds is errNotFound, as a record that
// is not there.
func pathID(r *http.Request, name string) (uint, error) {
	id, err := strconv.ParseUint(chi.URLParam(r, name), 10, 63)
	if err != nil || id == 0 {
		return 0, errNotFound
	}
	return uint(id), nil
}

// badTextMessage answers input that db.PlainText refuses.
const badTextMessage = "The request holds characters that are not allowed (a NUL byte or invalid UTF-8)."

// get returns a field's value.
func (f *form) get(name string) string { return f.Values[name] }

// fail records a problem with a field.
func (f *form) fail(field, message string) {
	if _, seen := f.Errors[field]; !seen {
		f.Errors[field] = message
	}
}

// ok reports whether no problem was recorded.
func (f *form) ok() bool { return len(f.Errors) == 0 }

// newForm is an empty form for a GET.
func newForm() *form { return &form{Values: map[string]string{}, Errors: map[string]string{}} }

// withoutPasswords is f to send back to the browser: typed passwords
// never are, so only the problems come back.
func withoutPasswords(f *form) *form {
	return &form{Values: map[string]string{}, Errors: f.Errors}
}

// problem records err, a refusal of the users service, on the form field
// it concerns ("" for the form as a whole) and returns nil; any other
// error it returns as it is. Registration, the password pages and the
// admin panel share it.
func (f *form) problem(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, users.ErrInvalidPassword) {
		f.fail("password", passwordReason(err))
		return nil
	}
	for _, p := range formProblems {
		if errors.Is(err, p.err) {
			f.fail(p.field, p.message)
			return nil
		}
	}
	return err
}

// formProblems are the users service's refusals, as problems of a form
// field ("" for the form as a whole).
var formProblems = []struct {
	err            error
	field, message string
}{
	{users.ErrInvalidEmail, "email", "Enter an email address like ada@example.com."},
	{users.ErrEmailTaken, "email", "This email address is already registered."},
	{users.ErrInvalidName, "name", "Use at most 200 characters."},
	{users.ErrUnknownRole, "roles", "Choose roles from the list."},
	{users.ErrLastAdmin, "", lastAdminMessage},
	{users.ErrOwnAccount, "", "You cannot take admin away from, or deactivate, your own account."},
	{users.ErrInvalidCredentials, "old_password", "This is not your current password."},
	{users.ErrDirectoryManaged, "", "This account comes from the company directory: its address and its admin, dev and user roles follow the directory."},
}

// passwordReason is what the form says of a password the policy refused.
func passwordReason(err error) string {
	var p *users.PasswordProblem
	if errors.As(err, &p) {
		return strings.ToUpper(p.Reason[:1]) + p.Reason[1:] + "."
	}
	return "Choose another password."
}

// flashAndGo ends a post that worked: message shows on the next page, and
// the browser is sent to path (303, so a reload does not post again).
func (s *Server) flashAndGo(w http.ResponseWriter, r *http.Request, message, path string) {
	session.AddFlash(r.Context(), s.sessions, "success", message)
	http.Redirect(w, r, path, http.StatusSeeOther)
}
