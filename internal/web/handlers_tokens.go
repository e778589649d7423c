package web

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"text/template"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/mail"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// How long the links in account emails stay valid.
const (
	resetLinkTTL   = time.Hour
	confirmLinkTTL = 48 * time.Hour
)

// sendAccountMail renders templates/emails/NAME.txt (its "subject" and
// "text" blocks) and enqueues it for u with a link to path+token.
func (s *Server) sendAccountMail(r *http.Request, u *users.User, name, path string, purpose users.TokenPurpose, ttl time.Duration) error {
	token, err := s.app.Users.IssueToken(r.Context(), u.ID, purpose, ttl)
	if err != nil {
		return err
	}
	tmpl, err := template.ParseFS(s.templates.fsys, "emails/"+name+".txt")
	if err != nil {
		return fmt.Errorf("email template %s: %w", name, err)
	}
	data := map[string]any{
		"AppName": s.app.Config.AppName,
		"Email":   u.Email,
		"Link":    s.app.Config.BaseURL + path + token,
		"Expires": ttl.String(),
	}
	var subject, text bytes.Buffer
	if err := tmpl.ExecuteTemplate(&subject, "subject", data); err != nil {
		return fmt.Errorf("email %s subject: %w", name, err)
	}
	if err := tmpl.ExecuteTemplate(&text, "text", data); err != nil {
		return fmt.Errorf("email %s text: %w", name, err)
	}
	return s.app.Jobs.EnqueueMail(r.Context(), mail.Message{To: []string{u.Email}, Subject: subject.String(), Text: text.String()})
}

// sendConfirmation mails u a link that confirms their address.
func (s *Server) sendConfirmation(r *http.Request, u *users.User) error {
	return s.sendAccountMail(r, u, "confirm-email", "/user/confirm-email/", users.PurposeConfirmEmail, confirmLinkTTL)
}

func (s *Server) forgotPasswordPage(w http.ResponseWriter, r *http.Request) {
	f := newForm()
	if r.URL.Query().Get("sent") != "" {
		f.Values["sent"] = "yes"
	}
	s.render(w, r, http.StatusOK, "pages/forgot-password.html", f)
}

// forgotPassword mails a reset link when the address has an active
// account, and answers the same either way: the page must not tell who
// has an account.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r, "email")
	if !ok {
		return
	}
	u, err := s.app.Users.ByEmail(r.Context(), f.get("email"))
	switch {
	case err == nil && u.Active:
		if err := s.sendAccountMail(r, u, "reset-password", "/user/reset-password/", users.PurposeResetPassword, resetLinkTTL); err != nil {
			s.serverError(w, r, err)
			return
		}
	case err != nil && !errors.Is(err, users.ErrNotFound):
		s.serverError(w, r, err)
		return
	}
	// The answer is in the address, not in a flash: a visitor asking for
	// a link has no session, and must not get one for it.
	http.Redirect(w, r, "/user/forgot-password?sent=1", http.StatusSeeOther)
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
	if _, err := s.app.Users.PeekToken(r.Context(), chi.URLParam(r, "token"), users.PurposeResetPassword); err != nil {
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
	checkNewPassword(f, "")
	var u *users.User
	if f.ok() {
		var err error
		u, err = s.app.Users.ResetPassword(r.Context(), chi.URLParam(r, "token"), f.get("password"))
		switch {
		case errors.Is(err, users.ErrInvalidPassword): // the account's own address, say
			f.fail("password", passwordReason(err))
		case err != nil:
			s.badLink(w, r, err)
			return
		}
	}
	if !f.ok() {
		s.render(w, r, http.StatusUnprocessableEntity, "pages/reset-password.html", &form{Values: map[string]string{}, Errors: f.Errors})
		return
	}
	if err := s.signIn(r, u); err != nil {
		s.serverError(w, r, err)
		return
	}
	// The owner has proved the mailbox: wrong guesses by others no
	// longer hold the account back.
	s.app.Limits.Reset(r.Context(), accountKey(u.Email))
	s.logger.InfoContext(r.Context(), "password reset", "user_id", u.ID)
	session.AddFlash(r.Context(), s.app.Sessions, "success", "Your new password is set, and you are signed in.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) confirmEmail(w http.ResponseWriter, r *http.Request) {
	u, err := s.app.Users.ConfirmEmail(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		s.badLink(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "email confirmed", "user_id", u.ID)
	session.AddFlash(r.Context(), s.app.Sessions, "success", "Your email address is confirmed.")
	if currentUser(r) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/user/sign-in", http.StatusSeeOther)
}
