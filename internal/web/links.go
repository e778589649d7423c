package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// The pages that mail a link to an address — a password reset, a new
// confirmation — answer every address alike and in the same work: the
// request is written to the outbox and the worker looks the account up,
// so neither the answer nor its timing tells who has an account, and
// Redis being away changes nothing. The answer is in the address
// (?sent=1), not in a flash: a visitor asking for a link has no session
// and must not get one for it.

// linkRequestPage shows page, which asks for an address, or after a post
// says the mail is on its way.
func (s *Server) linkRequestPage(w http.ResponseWriter, r *http.Request, page string) {
	f := newForm()
	if r.URL.Query().Get("sent") != "" {
		f.Values["sent"] = "yes"
	}
	s.render(w, r, http.StatusOK, page, f)
}

// linkRequest handles the post of such a page: request writes the mail
// for the address to the outbox. (The worker keeps each address's mail
// budget: only it knows whether a mail goes out.)
func (s *Server) linkRequest(w http.ResponseWriter, r *http.Request, request func(context.Context, string) error) {
	f, ok := s.parseForm(w, r, "email")
	if !ok {
		return
	}
	if err := request(r.Context(), f.get("email")); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.outbox.Send(r.Context())
	http.Redirect(w, r, r.URL.Path+"?sent=1", http.StatusSeeOther)
}

// noLocalPasswords answers the password-reset pages when every password
// is the directory's (USER_LDAP without USER_LDAP_ALLOW_LOCAL), and
// reports whether it did.
func (s *Server) noLocalPasswords(w http.ResponseWriter, r *http.Request) bool {
	if !s.cfg.UserLDAP || s.cfg.UserLDAPAllowLocal {
		return false
	}
	s.renderError(w, r, http.StatusForbidden, directoryPasswordMessage)
	return true
}

func (s *Server) forgotPasswordPage(w http.ResponseWriter, r *http.Request) {
	if s.noLocalPasswords(w, r) {
		return
	}
	s.linkRequestPage(w, r, "pages/forgot-password.html")
}

// forgotPassword has a reset link mailed if the address has an active
// local account (not a directory-managed one).
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	if s.noLocalPasswords(w, r) {
		return
	}
	s.linkRequest(w, r, s.users.RequestPasswordReset)
}

func (s *Server) resendConfirmationPage(w http.ResponseWriter, r *http.Request) {
	s.linkRequestPage(w, r, "pages/resend-confirmation.html")
}

// resendConfirmation has a new confirmation link mailed if the address
// has an active account still unconfirmed.
func (s *Server) resendConfirmation(w http.ResponseWriter, r *http.Request) {
	s.linkRequest(w, r, s.users.RequestConfirmation)
}

// badLink renders the page for a reset or confirm link that cannot be used.
func (s *Server) badLink(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, users.ErrTokenExpired):
		s.renderError(w, r, http.StatusBadRequest, "This link has expired. Ask for a new one.")
	case errors.Is(err, users.ErrTokenUsed):
		s.renderError(w, r, http.StatusBadRequest, "This link has been used already. Ask for a new one if you need it.")
	case errors.Is(err, users.ErrInvalidToken):
		s.renderError(w, r, http.StatusBadRequest, "This link is not valid. Check that you copied all of it, or ask for a new one.")
	default:
		s.serverError(w, r, err)
	}
}

func (s *Server) resetPasswordPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.users.PeekToken(r.Context(), chi.URLParam(r, "token"), users.PurposeResetPassword); err != nil {
		s.badLink(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "pages/reset-password.html", newForm())
}

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r, "password", "retype_password")
	if !ok {
		return
	}
	s.checkNewPassword(f, "")
	var u *users.User
	if f.ok() {
		var err error
		u, err = s.users.ResetPassword(r.Context(), chi.URLParam(r, "token"), f.get("password"))
		switch {
		case errors.Is(err, users.ErrInvalidPassword): // the account's own address, say
			f.fail("password", passwordReason(err))
		case errors.Is(err, users.ErrDirectoryManaged):
			s.renderError(w, r, http.StatusForbidden, directoryPasswordMessage)
			return
		case err != nil:
			s.badLink(w, r, err)
			return
		}
	}
	if s.passwordFormFailed(w, r, "pages/reset-password.html", f) {
		return
	}
	if !s.sessionStarted(w, r, u) {
		return
	}
	// The owner has proved the mailbox: wrong guesses by others no
	// longer hold the account back.
	s.limits.Reset(r.Context(), accountKey(u.Email))
	s.logger.InfoContext(r.Context(), "password reset", "user_id", u.ID)
	s.flashAndGo(w, r, "Your new password is set, and you are signed in.", "/")
}

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) {
	u, err := s.users.ConfirmEmail(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "email confirmed", "user_id", u.ID)
	session.AddFlash(r.Context(), s.sessions, "success", "Your email address is confirmed.")
	if currentUser(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/user/sign-in", http.StatusSeeOther)
}
