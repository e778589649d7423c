// Signing in and out: the sign-in page (an email address, or with
// USER_LDAP a directory username, and a password), the session it
// starts, and the password check the sign-in page and the API share.

package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/users"
)

// signInData is the data of templates/pages/sign-in.html.
type signInData struct {
	*form
	// Unconfirmed: the account's address is not confirmed yet, so the
	// page offers a new link.
	Unconfirmed bool
	// Providers are the OpenID Connect providers' buttons (sso.go).
	Providers []ssoButton
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) error {
	if currentUser(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	f := newForm()
	f.Values["next"] = r.URL.Query().Get("next")
	return s.render(w, r, http.StatusOK, "pages/sign-in.html", signInData{form: f, Providers: s.ssoButtons()})
}

// signIn checks an email address (or, with USER_LDAP, a directory
// username: field username, or email as without it) and password and
// starts the session. Guesses count against the name given, whichever it
// is.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "email", "username", "password", "next")
	if err != nil {
		return err
	}
	name := f.get("email")
	if s.cfg.UserLDAP && f.get("username") != "" {
		name = f.get("username")
	}
	budget := s.browserBudget(r, s.guessKey(name))
	if err := s.spendGuess(r.Context(), budget); err != nil {
		return err
	}
	u, err := s.checkPassword(r.Context(), name, f.get("password"), budget, s.users.SignIn)
	page := signInData{form: f, Providers: s.ssoButtons()}
	status := http.StatusUnprocessableEntity
	switch refusal := refusalOf(err); {
	case err == nil:
	case errors.Is(err, users.ErrInvalidCredentials) && s.cfg.UserLDAP:
		f.fail("", "The username or password is not right.")
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail("", "The email address or password is not right.")
	case errors.Is(err, users.ErrEmailUnconfirmed):
		f.fail("", "Confirm your email address first: follow the link in the email we sent you.")
		page.Unconfirmed = true
	case refusal != nil:
		// A directory that is down, or that refuses this user an account.
		s.logger.WarnContext(r.Context(), "directory sign-in refused", "err", err)
		status = refusal.status
		f.fail("", refusal.message)
	default:
		return err
	}
	if !f.ok() {
		f.Values["password"] = ""
		return s.render(w, r, status, "pages/sign-in.html", page)
	}
	if u.SecondFactor {
		return s.beginSecondStep(w, r, u, u.SignInMethod, f.get("next"))
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "user signed in", "user_id", u.ID)
	http.Redirect(w, r, localPath(f.get("next")), http.StatusSeeOther)
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) error {
	if u := currentUser(r); u != nil {
		s.logger.InfoContext(r.Context(), "user signed out", "user_id", u.ID)
		// Signing out goes on when the event cannot be recorded: leaving
		// the visitor signed in would be worse than a missing row.
		if err := s.events.Record(r.Context(), nil, seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.SignOut}); err != nil {
			s.logger.ErrorContext(r.Context(), "security event not recorded", "kind", seclog.SignOut, "err", err)
		}
	}
	if err := s.forgetSession(r.Context()); err != nil {
		return err
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// startSession starts a session for u: a new session token (against
// fixation) carrying the user's ID and session key. Every caller has just
// seen the visitor prove they are u (a password, a link by mail, a
// session of theirs), so the browser is remembered as one of u's devices.
// The session is listed among u's sessions (registerSession), in place of
// the one its token replaced.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *users.User) error {
	u, err := s.users.EnsureSessionKey(r.Context(), u)
	if err != nil {
		return err
	}
	old := s.sessions.GetString(r.Context(), sessionID)
	if err := s.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	if s.sessions.GetInt64(r.Context(), sessionUserID) != int64(u.ID) {
		// A provider's second factor (sessionProviderMFA) was checked for
		// the account it signed in, not for another one signed in later in
		// this browser.
		s.sessions.Remove(r.Context(), sessionProviderMFA)
	}
	s.sessions.Put(r.Context(), sessionUserID, int64(u.ID))
	s.sessions.Put(r.Context(), sessionUserKey, u.SessionKey)
	s.sessions.Put(r.Context(), sessionSignedInAt, s.now().Unix())
	if err := s.registerSession(r.Context(), u, old); err != nil {
		return err
	}
	markSignedIn(r)
	return s.devices.remember(w, r, u)
}

// keepSession goes on with the signed-in user u's session after a change
// that gave u a new session key (ending their other sessions): a new
// token, the new key, but no new sign-in. When it was stays as it was:
// a change that asked for no password must not make a stolen session
// look freshly signed in (recentSignIn), which adding a passkey needs.
func (s *Server) keepSession(w http.ResponseWriter, r *http.Request, u *users.User) error {
	ctx := r.Context()
	at := s.sessions.GetInt64(ctx, sessionSignedInAt)
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.sessions.Put(ctx, sessionSignedInAt, at)
	return nil
}

// checkPassword returns the user whose name (an email address, or with
// USER_LDAP a directory username) and password these are, checked by
// signIn (users.SignIn for the form, SignInForAPI for the API, which
// record the attempt as theirs); a right password gives the guessing
// budget the check spent back.
func (s *Server) checkPassword(ctx context.Context, name, password string, budget guessBudget, signIn func(ctx context.Context, name, password string) (*users.User, error)) (*users.User, error) {
	u, err := signIn(ctx, name, password)
	if s.cfg.UserLDAP && (errors.Is(err, directory.ErrUnavailable) || (err == nil && u.Directory())) {
		// What /readyz last saw of the directory may no longer hold.
		_ = s.cache.Forget(ctx, directoryCheckKey)
	}
	if err == nil || errors.Is(err, users.ErrEmailUnconfirmed) || errors.Is(err, users.ErrSecondFactorRequired) {
		s.rightGuess(ctx, budget)
	}
	return u, err
}

// guessKey is the name whose budget a password check for name spends:
// with USER_LDAP, the directory's form of it (directory.Key), so that
// spellings the directory takes for one user share one budget. (For an
// email address that is the address lower-cased, as without USER_LDAP.)
func (s *Server) guessKey(name string) string {
	if s.cfg.UserLDAP {
		return directory.Key(name)
	}
	return name
}

// ownGuessKey is the name whose budget a signed-in user's password checks
// spend: the one their sign-ins spend.
func ownGuessKey(u *users.User) string {
	if u.Directory() {
		return *u.DirectoryName
	}
	return u.Email
}
