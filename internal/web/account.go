package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/launchkit/launchkit/internal/directory"
	"github.com/launchkit/launchkit/internal/users"
)

// sessionStarted starts a session for u (startSession) and reports
// whether it did; when not, it has answered 500.
func (s *Server) sessionStarted(w http.ResponseWriter, r *http.Request, u *users.User) bool {
	if err := s.startSession(w, r, u); err != nil {
		s.serverError(w, r, err)
		return false
	}
	return true
}

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

// registrationClosed answers for the registration pages when nobody may
// register here, and reports whether it did.
func (s *Server) registrationClosed(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case s.cfg.UserLDAP:
		s.renderError(w, r, http.StatusForbidden, "Accounts here come from the company directory: sign in with your directory username and password.")
	case !s.cfg.UserEnableRegister:
		s.renderError(w, r, http.StatusNotFound, "Registration is closed.")
	default:
		return false
	}
	return true
}

func (s *Server) registerPage(w http.ResponseWriter, r *http.Request) {
	if s.registrationClosed(w, r) {
		return
	}
	s.render(w, r, http.StatusOK, "pages/register.html", newForm())
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if s.registrationClosed(w, r) {
		return
	}
	f, ok := s.parseForm(w, r, "email", "password", "retype_password")
	if !ok {
		return
	}
	s.checkNewPassword(f, f.get("email"))
	if !f.ok() {
		s.render(w, r, http.StatusUnprocessableEntity, "pages/register.html", f)
		return
	}
	requireConfirmation := s.cfg.UserRequireConfirmedEmail
	u, err := s.users.Register(r.Context(), f.get("email"), f.get("password"), requireConfirmation)
	if errors.Is(err, users.ErrEmailTaken) && requireConfirmation {
		// Answer as for a new account: the owner is mailed a notice.
		s.outbox.Send(r.Context())
		s.askToConfirm(w, r)
		return
	}
	if !s.userProblem(w, r, f, err) {
		return
	}
	if !f.ok() {
		s.render(w, r, http.StatusUnprocessableEntity, "pages/register.html", f)
		return
	}
	s.logger.InfoContext(r.Context(), "user registered", "user_id", u.ID)
	if err := s.afterRegister(w, r, u); err != nil {
		s.serverError(w, r, err)
	}
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

// passwordReason is what the form says of a password the policy refused.
func passwordReason(err error) string {
	var p *users.PasswordProblem
	if errors.As(err, &p) {
		return strings.ToUpper(p.Reason[:1]) + p.Reason[1:] + "."
	}
	return "Choose another password."
}

// userProblem turns an error of the users service into a form problem
// and reports whether the handler should go on (false: a 500 was
// rendered). Registration and the admin panel share it.
func (s *Server) userProblem(w http.ResponseWriter, r *http.Request, f *form, err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, users.ErrInvalidPassword) {
		f.fail("password", passwordReason(err))
		return true
	}
	for _, p := range userProblems {
		if errors.Is(err, p.err) {
			f.fail(p.field, p.message)
			return true
		}
	}
	s.serverError(w, r, err)
	return false
}

// userProblems are the users service's refusals, as problems of a form
// field ("" for the form as a whole).
var userProblems = []struct {
	err            error
	field, message string
}{
	{users.ErrInvalidEmail, "email", "Enter an email address like ada@example.com."},
	{users.ErrEmailTaken, "email", "This email address is already registered."},
	{users.ErrInvalidName, "name", "Use at most 200 characters."},
	{users.ErrUnknownRole, "roles", "Choose roles from the list."},
	{users.ErrLastAdmin, "", "The site must keep at least one active admin: make someone else an admin first."},
	{users.ErrOwnAccount, "", "You cannot take admin away from, or deactivate, your own account."},
	{users.ErrInvalidCredentials, "old_password", "This is not your current password."},
	{users.ErrDirectoryManaged, "", "This account comes from the company directory: its address and its admin, dev and user roles follow the directory."},
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

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if currentUser(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	f := newForm()
	f.Values["next"] = r.URL.Query().Get("next")
	s.render(w, r, http.StatusOK, "pages/sign-in.html", f)
}

// signIn checks an email address (or, with USER_LDAP, a directory
// username: field username, or email as without it) and password and
// starts the session. Guesses count against the name given, whichever it
// is.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r, "email", "username", "password", "next")
	if !ok {
		return
	}
	name := f.get("email")
	if s.cfg.UserLDAP && f.get("username") != "" {
		name = f.get("username")
	}
	budget := s.browserBudget(r, s.guessKey(name))
	if !s.spendGuess(w, r, budget) {
		return
	}
	u, err := s.checkPassword(r.Context(), name, f.get("password"), budget)
	status := http.StatusUnprocessableEntity
	switch refusal := directoryRefusalOf(err); {
	case errors.Is(err, users.ErrInvalidCredentials) && s.cfg.UserLDAP:
		f.fail("", "The username or password is not right.")
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail("", "The email address or password is not right.")
	case errors.Is(err, users.ErrEmailUnconfirmed):
		f.fail("", "Confirm your email address first: follow the link in the email we sent you.")
		f.Values["unconfirmed"] = "yes"
	case refusal != nil:
		s.logger.WarnContext(r.Context(), "directory sign-in refused", "err", err)
		status = refusal.status
		f.fail("", refusal.message)
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if !f.ok() {
		f.Values["password"] = ""
		s.render(w, r, status, "pages/sign-in.html", f)
		return
	}
	if !s.sessionStarted(w, r, u) {
		return
	}
	s.logger.InfoContext(r.Context(), "user signed in", "user_id", u.ID)
	http.Redirect(w, r, localPath(f.get("next")), http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if u := currentUser(r); u != nil {
		s.logger.InfoContext(r.Context(), "user signed out", "user_id", u.ID)
	}
	if err := s.sessions.Destroy(r.Context()); err != nil {
		s.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) profilePage(w http.ResponseWriter, r *http.Request) {
	f := newForm()
	f.Values["name"] = currentUser(r).Name
	s.render(w, r, http.StatusOK, "pages/profile.html", f)
}

func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r, "name")
	if !ok {
		return
	}
	err := s.users.SetName(r.Context(), currentUser(r).ID, f.get("name"))
	if errors.Is(err, users.ErrInvalidName) {
		f.fail("name", "Use at most 200 characters.")
		s.render(w, r, http.StatusUnprocessableEntity, "pages/profile.html", f)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.flashAndGo(w, r, "Your profile is saved.", "/user/profile")
}

// checkPassword returns the user whose name (an email address, or with
// USER_LDAP a directory username) and password these are (users.SignIn),
// for the sign-in form and the API alike; a right password gives the
// guessing budget the check spent back.
func (s *Server) checkPassword(ctx context.Context, name, password string, budget guessBudget) (*users.User, error) {
	u, err := s.users.SignIn(ctx, name, password)
	if s.cfg.UserLDAP && (errors.Is(err, directory.ErrUnavailable) || (err == nil && u.Directory())) {
		// What /readyz last saw of the directory may no longer hold.
		_ = s.cache.Forget(ctx, directoryCheckKey)
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

// refusal is how a page or the API answers one error of the services.
type refusal struct {
	err     error
	status  int
	message string
}

// directoryRefusals are the answers to a directory sign-in that cannot
// go on: the directory is down, or the password was right but the user
// may not have an account here.
var directoryRefusals = []refusal{
	{directory.ErrUnavailable, http.StatusServiceUnavailable, "The company directory is not answering, so your password cannot be checked right now. Try again in a few minutes."},
	{directory.ErrNoEmail, http.StatusForbidden, "Your directory account has no email address, which every account here needs: ask your directory administrator to add one."},
	{directory.ErrNoRole, http.StatusForbidden, "Your directory account is not in a group allowed to use this site: ask your directory administrator."},
	{users.ErrDirectoryEmailTaken, http.StatusForbidden, "Another account here already has the email address of your directory account: ask an admin of this site to change or remove it."},
}

// directoryRefusalOf returns the directory refusal err is, or nil.
func directoryRefusalOf(err error) *refusal {
	for i := range directoryRefusals {
		if err != nil && errors.Is(err, directoryRefusals[i].err) {
			return &directoryRefusals[i]
		}
	}
	return nil
}

// directoryPassword answers, for a directory-managed account, the pages
// that change a password, and reports whether it did: the password is the
// directory's.
func (s *Server) directoryPassword(w http.ResponseWriter, r *http.Request) bool {
	if !currentUser(r).Directory() {
		return false
	}
	s.renderError(w, r, http.StatusForbidden, directoryPasswordMessage)
	return true
}

// directoryPasswordMessage says where a directory user's password is changed.
const directoryPasswordMessage = "Your password is the company directory's: change or reset it there (your IT helpdesk can help)."

func (s *Server) changePasswordPage(w http.ResponseWriter, r *http.Request) {
	if s.directoryPassword(w, r) {
		return
	}
	s.render(w, r, http.StatusOK, "pages/change-password.html", newForm())
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	if s.directoryPassword(w, r) {
		return
	}
	f, ok := s.parseForm(w, r, "old_password", "password", "retype_password")
	if !ok {
		return
	}
	me := currentUser(r)
	s.checkNewPassword(f, me.Email)
	var u *users.User
	if f.ok() {
		budget := s.ownBudget(r, me)
		if !s.spendGuess(w, r, budget) {
			return
		}
		var err error
		u, err = s.users.ChangePassword(r.Context(), me.ID, f.get("old_password"), f.get("password"))
		if err == nil {
			s.rightGuess(r.Context(), budget)
		}
		if !s.userProblem(w, r, f, err) {
			return
		}
	}
	if s.passwordFormFailed(w, r, "pages/change-password.html", f) {
		return
	}
	// The change ended every session of the user; this one goes on, with
	// a new token and the new session key.
	if !s.sessionStarted(w, r, u) {
		return
	}
	s.flashAndGo(w, r, "Your password is changed, and every other session of yours is signed out.", "/user/profile")
}

// signOutOthers ends every session of the signed-in user but this one,
// given their password (a stolen session alone cannot sign its owner
// out); guesses at it count against the account like any other.
func (s *Server) signOutOthers(w http.ResponseWriter, r *http.Request) {
	f, ok := s.parseForm(w, r, "password")
	if !ok {
		return
	}
	me := currentUser(r)
	budget := s.ownBudget(r, me)
	if !s.spendGuess(w, r, budget) {
		return
	}
	key := s.sessions.GetString(r.Context(), sessionUserKey)
	u, err := s.users.EndOtherSessions(r.Context(), me.ID, key, f.get("password"))
	if err == nil {
		s.rightGuess(r.Context(), budget)
		err = s.startSession(w, r, u)
	}
	switch refusal := directoryRefusalOf(err); {
	case refusal != nil:
		s.logger.WarnContext(r.Context(), "directory password check failed", "err", err)
		s.renderError(w, r, refusal.status, refusal.message)
		return
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail("password", "This is not your password.")
		page := newForm()
		page.Values["name"], page.Errors = me.Name, f.Errors
		s.render(w, r, http.StatusUnprocessableEntity, "pages/profile.html", page)
		return
	case errors.Is(err, users.ErrSessionEnded):
		// Another request ended this session first: it is over.
		s.signOut(w, r)
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "user signed out of other sessions", "user_id", u.ID)
	s.flashAndGo(w, r, "Signed out of every other session.", "/user/profile")
}
