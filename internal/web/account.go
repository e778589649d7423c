package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/users"
)

// startSession starts a session for u: a new session token (against
// fixation) carrying the user's ID and session key. Every caller has just
// seen the visitor prove they are u (a password, a link by mail, a
// session of theirs), so the browser is remembered as one of u's devices.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *users.User) error {
	u, err := s.users.EnsureSessionKey(r.Context(), u)
	if err != nil {
		return err
	}
	if err := s.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	s.sessions.Put(r.Context(), sessionUserID, int64(u.ID))
	s.sessions.Put(r.Context(), sessionUserKey, u.SessionKey)
	markSignedIn(r)
	return s.devices.remember(w, r, u)
}

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

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) error {
	if err := s.mayRegister(); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/register.html", registerData{newForm()})
}

// registerData is the data of templates/pages/register.html.
type registerData struct{ *form }

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

// signInData is the data of templates/pages/sign-in.html.
type signInData struct {
	*form
	// Unconfirmed: the account's address is not confirmed yet, so the
	// page offers a new link.
	Unconfirmed bool
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) error {
	if currentUser(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	f := newForm()
	f.Values["next"] = r.URL.Query().Get("next")
	return s.render(w, r, http.StatusOK, "pages/sign-in.html", signInData{form: f})
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
	u, err := s.checkPassword(r.Context(), name, f.get("password"), budget)
	page := signInData{form: f}
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
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// profileData is the data of templates/pages/profile.html: the name
// form, and the problem of the password of "sign out of all other
// sessions".
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
	err = s.users.SetName(r.Context(), currentUser(r).ID, f.get("name"))
	if errors.Is(err, users.ErrInvalidName) {
		f.fail("name", "Use at most 200 characters.")
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/profile.html", profileData{f})
	}
	if err != nil {
		return err
	}
	s.flashAndGo(w, r, "Your profile is saved.", "/user/profile")
	return nil
}

// checkPassword returns the user whose name (an email address, or with
// USER_LDAP a directory username) and password these are, for the
// sign-in form and the API alike; a right password gives the guessing
// budget the check spent back.
func (s *Server) checkPassword(ctx context.Context, name, password string, budget guessBudget) (*users.User, error) {
	var u *users.User
	var err error
	if s.cfg.UserLDAP {
		u, err = s.users.SignInWithDirectory(ctx, name, password, s.cfg.UserLDAPAllowLocal)
		if errors.Is(err, directory.ErrUnavailable) || (err == nil && u.Directory()) {
			// What /readyz last saw of the directory may no longer hold.
			_ = s.cache.Forget(ctx, directoryCheckKey)
		}
	} else {
		u, err = s.users.Authenticate(ctx, name, password)
	}
	if err == nil || errors.Is(err, users.ErrEmailUnconfirmed) {
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

// mayChangePassword refuses the pages that change a password to a
// directory-managed account: the password is the directory's.
func mayChangePassword(u *users.User) error {
	if u.Directory() {
		return errStatus(http.StatusForbidden, directoryPasswordMessage)
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
		page := newForm()
		page.Values["name"], page.Errors = me.Name, f.Errors
		return s.render(w, r, http.StatusUnprocessableEntity, "pages/profile.html", profileData{page})
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
	s.flashAndGo(w, r, "Signed out of every other session.", "/user/profile")
	return nil
}
