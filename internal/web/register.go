// Registration: /user/register, open unless USER_ENABLE_REGISTER is off
// or accounts come from the directory (USER_LDAP).

package web

import (
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// mayRegister refuses the registration pages when nobody may register
// here.
func (s *Server) mayRegister() error {
	switch {
	case s.cfg.UserLDAP:
		return errStatus(http.StatusForbidden, "Accounts here come from the company directory: sign in with your directory username and password.")
	case !s.cfg.UserEnableRegister:
		return errStatus(http.StatusNotFound, "Registration is closed.")
	}
	return nil
}

// registerData is the data of templates/pages/register.html.
type registerData struct{ *form }

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) error {
	if err := s.mayRegister(); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/register.html", registerData{newForm()})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	if err := s.mayRegister(); err != nil {
		return err
	}
	f, err := s.parseForm(w, r, "email", "password", "retype_password")
	if err != nil {
		return err
	}
	s.checkNewPassword(f, f.get("email"))
	if !f.ok() {
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/register.html", registerData{f})
	}
	requireConfirmation := s.cfg.UserRequireConfirmedEmail
	u, err := s.users.Register(r.Context(), f.get("email"), f.get("password"), requireConfirmation)
	if errors.Is(err, users.ErrEmailTaken) && requireConfirmation {
		// Answer as for a new account: the owner is mailed a notice.
		s.outbox.Send(r.Context())
		s.askToConfirm(w, r)
		return nil
	}
	if err := f.problem(err); err != nil {
		return err
	}
	if !f.ok() {
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/register.html", registerData{f})
	}
	s.logger.InfoContext(r.Context(), "user registered", "user_id", u.ID)
	return s.afterRegister(w, r, u)
}

// afterRegister signs the new user in, or, when confirmed addresses are
// required, asks them to confirm first. The confirmation mail was written
// with the account; it goes to the queue now, or once Redis is back.
func (s *Server) afterRegister(w http.ResponseWriter, r *http.Request, u *users.User) error {
	s.outbox.Send(r.Context())
	if s.cfg.UserRequireConfirmedEmail {
		s.askToConfirm(w, r)
		return nil
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.flashAndGo(w, r, "Welcome! Your account is ready.", "/")
	return nil
}

// askToConfirm answers a registration when addresses must be confirmed
// first, for a new address and a taken one alike.
func (s *Server) askToConfirm(w http.ResponseWriter, r *http.Request) {
	s.flashAndGo(w, r, "Welcome! We sent you an email: follow its link to confirm your address, then sign in.", "/user/sign-in")
}
