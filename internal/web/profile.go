// The signed-in user's profile page (their name), and "sign out of all
// other sessions", a form on the security page.

package web

import (
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// profileData is the data of templates/pages/profile.html: the name
// form.
type profileData struct{ *form }

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request) error {
	f := newForm()
	f.Values["name"] = currentUser(r).Name
	return s.render(w, r, http.StatusOK, "pages/profile.html", profileData{f})
}

func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "name")
	if err != nil {
		return err
	}
	if err := f.problem(s.users.SetName(r.Context(), currentUser(r).ID, f.get("name"))); err != nil {
		return err
	}
	if !f.ok() {
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/profile.html", profileData{f})
	}
	s.flashAndGo(w, r, "Your profile is saved.", "/user/profile")
	return nil
}

// signOutOthers ends every session of the signed-in user but this one,
// given their password (a stolen session alone cannot sign its owner
// out); guesses at it count against the account like any other.
func (s *Server) signOutOthers(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "password")
	if err != nil {
		return err
	}
	me := currentUser(r)
	budget := s.ownBudget(r, me)
	if err := s.spendGuess(r.Context(), budget); err != nil {
		return err
	}
	key := s.sessions.GetString(r.Context(), sessionUserKey)
	u, err := s.users.EndOtherSessions(r.Context(), me.ID, key, f.get("password"))
	if err == nil {
		s.rightGuess(r.Context(), budget)
		err = s.startSession(w, r, u)
	}
	switch {
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail("password", "This is not your password.")
		f.Values["password"] = ""
		return s.renderSecurity(w, r, http.StatusUnprocessableEntity, f)
	case errors.Is(err, users.ErrSessionEnded):
		// Another request ended this session first: it is over.
		return s.signOut(w, r)
	case refusalOf(err) != nil:
		// A directory that is down, or that refuses this user now.
		s.logger.WarnContext(r.Context(), "directory password check failed", "err", err)
		return err
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "user signed out of other sessions", "user_id", u.ID)
	s.flashAndGo(w, r, "Signed out of every other session.", "/user/security")
	return nil
}
