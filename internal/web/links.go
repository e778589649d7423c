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

// linkRequestData is the data of the pages that ask for an address
// (templates/pages/forgot-password.html, resend-confirmation.html).
type linkRequestData struct {
	// Sent: the mail is on its way (the page after a post).
	Sent bool
}

// linkRequestPage shows page, which asks for an address, or after a post
// says the mail is on its way.
func (s *Server) linkRequestPage(w http.ResponseWriter, r *http.Request, page string) error {
	return s.render(w, r, http.StatusOK, page, linkRequestData{Sent: r.URL.Query().Get("sent") != ""})
}

// linkRequest handles the post of such a page: request writes the mail
// for the address to the outbox. (The worker keeps each address's mail
// budget: only it knows whether a mail goes out.)
func (s *Server) linkRequest(w http.ResponseWriter, r *http.Request, request func(context.Context, string) error) error {
	f, err := s.parseForm(w, r, "email")
	if err != nil {
		return err
	}
	if err := request(r.Context(), f.get("email")); err != nil {
		return err
	}
	s.outbox.Send(r.Context())
	http.Redirect(w, r, r.URL.Path+"?sent=1", http.StatusSeeOther)
	return nil
}

// localPasswords refuses the password-reset pages when every password is
// the directory's (USER_LDAP without USER_LDAP_ALLOW_LOCAL).
func (s *Server) localPasswords() error {
	if s.cfg.UserLDAP && !s.cfg.UserLDAPAllowLocal {
		return errStatus(http.StatusForbidden, directoryPasswordMessage)
	}
	return nil
}

func (s *Server) forgotPasswordPage(w http.ResponseWriter, r *http.Request) error {
	if err := s.localPasswords(); err != nil {
		return err
	}
	return s.linkRequestPage(w, r, "pages/forgot-password.html")
}

// forgotPassword has a reset link mailed if the address has an active
// local account (not a directory-managed one).
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	if err := s.localPasswords(); err != nil {
		return err
	}
	return s.linkRequest(w, r, s.users.RequestPasswordReset)
}

func (s *Server) resendConfirmationPage(w http.ResponseWriter, r *http.Request) error {
	return s.linkRequestPage(w, r, "pages/resend-confirmation.html")
}

// resendConfirmation has a new confirmation link mailed if the address
// has an active account still unconfirmed.
func (s *Server) resendConfirmation(w http.ResponseWriter, r *http.Request) error {
	return s.linkRequest(w, r, s.users.RequestConfirmation)
}

// A reset or confirm link that cannot be used (users.ErrTokenExpired,
// ErrTokenUsed, ErrInvalidToken) is answered by respond's table, which
// says why.

func (s *Server) resetPasswordPage(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.users.PeekToken(r.Context(), chi.URLParam(r, "token"), users.PurposeResetPassword); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/reset-password.html", resetPasswordData{newForm()})
}

// resetPasswordData is the data of templates/pages/reset-password.html.
type resetPasswordData struct{ *form }

func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "password", "retype_password")
	if err != nil {
		return err
	}
	s.checkNewPassword(f, "")
	var u *users.User
	if f.ok() {
		u, err = s.users.ResetPassword(r.Context(), chi.URLParam(r, "token"), f.get("password"))
		if errors.Is(err, users.ErrInvalidPassword) { // the account's own address, say
			f.fail("password", passwordReason(err))
		} else if err != nil {
			return err // a link that cannot be used, a directory account
		}
	}
	if !f.ok() {
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/reset-password.html", resetPasswordData{withoutPasswords(f)})
	}
	// The owner has proved the mailbox: wrong guesses by others no
	// longer hold the account back.
	s.limits.Reset(r.Context(), accountKey(u.Email))
	// The mailbox stands in for the password, not for the second factor:
	// an account with one still shows it.
	if u.SecondFactor, err = s.users.HasSecondFactor(r.Context(), u.ID); err != nil {
		return err
	}
	if u.SecondFactor {
		s.logger.InfoContext(r.Context(), "password reset", "user_id", u.ID)
		session.AddFlash(r.Context(), s.sessions, "success", "Your new password is set. Now finish signing in with your second factor.")
		return s.beginSecondStep(w, r, u, users.MethodLink, "/")
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "password reset", "user_id", u.ID)
	s.flashAndGo(w, r, "Your new password is set, and you are signed in.", "/")
	return nil
}

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) error {
	u, err := s.users.ConfirmEmail(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "email confirmed", "user_id", u.ID)
	session.AddFlash(r.Context(), s.sessions, "success", "Your email address is confirmed.")
	if currentUser(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/user/sign-in", http.StatusSeeOther)
	return nil
}
