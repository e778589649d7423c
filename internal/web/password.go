// Choosing a password: the policy check every form that sets one uses
// (register, change, reset, an admin's new user), and the signed-in
// user's change-password page. (The reset by mail is in links.go.)

package web

import (
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// checkNewPassword checks the password and retype_password fields: the
// users service's password policy, for the account of email ("" if not
// known here; the service checks again with it).
func (s *Server) checkNewPassword(f *form, email string) {
	p := f.get("password")
	if err := s.users.CheckPassword(p, email); err != nil {
		f.fail("password", passwordReason(err))
	}
	if f.get("retype_password") != p {
		f.fail("retype_password", "The two passwords differ.")
	}
}

// mayChangePassword refuses the pages that change a password to a
// directory-managed account (the password is the directory's) and to an
// account that has none yet (made by a sign-in through a provider: a
// reset by mail sets its first one).
func mayChangePassword(u *users.User) error {
	if u.Directory() {
		return errStatus(http.StatusForbidden, directoryPasswordMessage)
	}
	if !u.HasPassword() {
		return errStatus(http.StatusForbidden, noPasswordMessage)
	}
	return nil
}

// changePasswordData is the data of templates/pages/change-password.html.
type changePasswordData struct{ *form }

func (s *Server) changePasswordPage(w http.ResponseWriter, r *http.Request) error {
	if err := mayChangePassword(currentUser(r)); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/change-password.html", changePasswordData{newForm()})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	if err := mayChangePassword(me); err != nil {
		return err
	}
	f, err := s.parseForm(w, r, "old_password", "password", "retype_password")
	if err != nil {
		return err
	}
	s.checkNewPassword(f, me.Email)
	var u *users.User
	if f.ok() {
		budget := s.ownBudget(r, me)
		if err := s.spendGuess(r.Context(), budget); err != nil {
			return err
		}
		u, err = s.users.ChangePassword(r.Context(), me.ID, f.get("old_password"), f.get("password"))
		if err == nil {
			s.rightGuess(r.Context(), budget)
		}
		if err := f.problem(err); err != nil {
			return err
		}
	}
	if !f.ok() {
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/change-password.html", changePasswordData{withoutPasswords(f)})
	}
	// The change ended every session of the user; this one goes on, with
	// a new token and the new session key.
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.flashAndGo(w, r, "Your password is changed, and every other session of yours is signed out.", "/user/profile")
	return nil
}

// passwordField is the data of the "password-field" partial
// (templates/layouts/partials.html): one password input with its label,
// its hint and its problem. Pages build it from their form with
// NewPassword, RetypePassword and CurrentPassword.
type passwordField struct {
	ID, Name, Label string
	// Autocomplete tells password managers what to offer:
	// "new-password" or "current-password".
	Autocomplete string
	// MinLength is the shortest password the policy takes (0: none said).
	MinLength int
	// Hint, when set, says what the password needs; the input points at
	// it (aria-describedby, id ID-hint).
	Hint string
	// Error is the field's problem, if any.
	Error string
}

// newPasswordHint says what the password policy asks for.
const newPasswordHint = "At least 8 characters, and hard to guess: a few words not often seen together are easiest to remember."

// NewPassword is the field "password" of a form that sets a password.
func (f *form) NewPassword(label string) passwordField {
	return passwordField{ID: "password", Name: "password", Label: label, Autocomplete: "new-password",
		MinLength: users.MinPasswordLen, Hint: newPasswordHint, Error: f.Errors["password"]}
}

// RetypePassword is the field "retype_password", the new password again.
func (f *form) RetypePassword(label string) passwordField {
	return passwordField{ID: "retype_password", Name: "retype_password", Label: label, Autocomplete: "new-password", Error: f.Errors["retype_password"]}
}

// CurrentPassword is a field name taking the account's password, with
// the input's id (several on one page need different ones).
func (f *form) CurrentPassword(id, name, label string) passwordField {
	return passwordField{ID: id, Name: name, Label: label, Autocomplete: "current-password", Error: f.Errors[name]}
}
