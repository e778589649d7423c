// The signed-in user's profile page (their name), and "sign out of all
// other sessions", a form on the security page.

package web

import (
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/images"
	"github.com/launchkit/launchkit/internal/users"
)

// profileData is the data of templates/pages/profile.html: the form of
// the name and the picture, the picture shown now (the 256-pixel copy),
// if any, and the limits a picture must keep (UPLOAD_MAX_BYTES and
// images.MaxPixels).
type profileData struct {
	*form
	Avatar        avatarView
	MaxSize       string
	MaxMegapixels int
}

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request) error {
	f := newForm()
	f.Values["name"] = currentUser(r).Name
	return s.renderProfile(w, r, http.StatusOK, f)
}

// renderProfile writes the profile page with f, the signed-in user's
// picture and the limits a new one must keep.
func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, status int, f *form) error {
	me := currentUser(r)
	return s.render(w, r, status, "pages/profile.html", profileData{
		form:          f,
		Avatar:        avatarView{URL: avatarURL(me, "256"), Initials: initials(me), Large: true},
		MaxSize:       byteSize(int64(s.cfg.UploadMaxBytes)),
		MaxMegapixels: images.MaxPixels / 1_000_000,
	})
}

// updateProfile saves the name, and the picture when one is sent (a
// multipart form: the page's), or removes it (the remove_avatar button).
// A picture is checked and re-encoded before anything is saved: a
// refused one saves nothing and says why on its field. An empty file
// field (no file chosen, or a file of no bytes) is no picture: the name
// is saved and the picture stays. A plain form (no file) changes the
// name alone.
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) error {
	f, ups, err := s.parseUploadForm(w, r, []string{"avatar"}, "name", "remove_avatar")
	if err != nil {
		return err
	}
	defer ups.Close()
	me := currentUser(r)
	remove := f.get("remove_avatar") != ""
	var picture *avatarPicture
	if up := ups["avatar"]; up != nil && !remove {
		if picture, err = readAvatar(r.Context(), f, up); err != nil {
			return err
		}
		up.Close() // the temporary file, at once: the picture is in memory
	}
	if f.ok() {
		if err := f.problem(s.users.SetName(r.Context(), me.ID, f.get("name"))); err != nil {
			return err
		}
	}
	if !f.ok() {
		return s.renderProfile(w, r, http.StatusUnprocessableEntity, f)
	}
	message := "Your profile is saved."
	switch {
	case remove:
		if err := s.users.RemoveAvatar(r.Context(), me.ID); err != nil {
			return err
		}
		message = "Your profile is saved, without a picture."
	case picture != nil:
		if err := s.storeAvatar(r.Context(), me.ID, picture); err != nil {
			return err
		}
		message = "Your profile and picture are saved."
	}
	if remove || picture != nil {
		// The release of the old picture's files, and the making of
		// the new one's copies, go to the queue now.
		s.outbox.Send(r.Context())
		s.logger.InfoContext(r.Context(), "user changed their picture", "user_id", me.ID, "removed", remove)
	}
	s.flashAndGo(w, r, message, "/user/profile")
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
