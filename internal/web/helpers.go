// What every handler uses beside render (render.go) and the error
// renderer (errors.go): reading forms and sending them back with their
// problems.

package web

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/launchkit/launchkit/internal/session"
)

// maxFormBytes bounds a form post; more is answered with 413.
const maxFormBytes = 64 << 10

// form is a submitted form: its values, to show again, and the problems
// found, by field ("" for the form as a whole).
type form struct {
	Values map[string]string
	Errors map[string]string
}

// parseForm reads the posted fields. It reports false after rendering
// the error (413 for too large, 400 for unreadable).
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request, fields ...string) (*form, bool) {
	f, err := parseForm(w, r, fields...)
	if err != nil {
		s.respond(w, r, err)
		return nil, false
	}
	return f, true
}

// badTextMessage answers input that plainText refuses.
const badTextMessage = "The request holds characters that are not allowed (a NUL byte or invalid UTF-8)."

// plainText reports whether s is valid UTF-8 without NUL bytes: what every
// database stores and compares as text (PostgreSQL refuses NUL outright).
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

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

// passwordFormFailed renders page again with f's problems, when it has
// any, and reports whether it did. The form comes back empty: typed
// passwords are never sent back to the browser.
func (s *Server) passwordFormFailed(w http.ResponseWriter, r *http.Request, page string, f *form) bool {
	if f.ok() {
		return false
	}
	s.render(w, r, http.StatusUnprocessableEntity, page, &form{Values: map[string]string{}, Errors: f.Errors})
	return true
}

// flashAndGo ends a post that worked: message shows on the next page, and
// the browser is sent to path (303, so a reload does not post again).
func (s *Server) flashAndGo(w http.ResponseWriter, r *http.Request, message, path string) {
	session.AddFlash(r.Context(), s.sessions, "success", message)
	http.Redirect(w, r, path, http.StatusSeeOther)
}
