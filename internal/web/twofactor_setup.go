// Setting up the authenticator app (/user/two-factor): enrolment with a
// QR code, recovery codes, turning it off; the security page's two-step
// sign-in card; an admin's reset of a user's second factors.
//
// The key being set up lives in the visitor's session until a code from
// the app shows the app has it (users.Service.EnableTOTP stores it,
// sealed): a reload shows the same key, so a phone that scanned it goes
// on working, for totpPendingLifetime. The recovery codes are shown once,
// in the answer to the post that made them: nothing keeps them to be
// shown again.

package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/skip2/go-qrcode"

	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// The session keys of an authenticator key being set up: its otpauth://
// URI (which holds the key), when it was made (Unix seconds), and for
// whom: a sign-in keeps the session's data, and another account signed in
// on the same browser must not set up a key the first one has seen.
const (
	sessionTOTPPending     = "totp_pending"
	sessionTOTPPendingAt   = "totp_pending_at"
	sessionTOTPPendingUser = "totp_pending_user"
)

// totpPendingLifetime is how long a key shown for set-up stays the one
// to confirm; after it a new key is made.
const totpPendingLifetime = 10 * time.Minute

// qrSize is the side of the QR code image, in pixels.
const qrSize = 240

// twoFactorData is the data of templates/pages/two-factor.html: the
// set-up of the app (Key, when it is off), its management (when it is
// on), or the recovery codes just made (Codes).
type twoFactorData struct {
	// form is the set-up's (field code).
	*form
	Factors users.SecondFactors
	// Key is the key being set up, nil when the app is on.
	Key *totpSetup
	// KeyLost: SECRET_KEY is generated at each start (development), so
	// the app's codes stop working at the next start.
	KeyLost bool
	// Regenerate and Disable are the forms of an app that is on.
	Regenerate, Disable *form
	// Password: turning the app off asks for the account's password (a
	// local one, or the directory's: Directory); else, for an account
	// without one, RecentSignIn tells whether its sign-in is recent
	// enough.
	Password, Directory, RecentSignIn bool
	// Codes are recovery codes just made, shown this once; Enabled says
	// whether the app was just turned on (else the codes were renewed).
	Codes   []string
	Enabled bool
}

// totpSetup is an authenticator key as the set-up page shows it.
type totpSetup struct {
	// URI is the otpauth:// URI, which the QR code holds.
	URI string
	// Secret is the key in base32, and Groups the same in fours, to type.
	Secret string
	Groups []string
	// QR is the QR code, a PNG as a data: URI (the Content-Security-Policy
	// allows data: images).
	QR template.URL
}

// newTOTPSetup is key as the page shows it.
func newTOTPSetup(key *otp.Key) (*totpSetup, error) {
	png, err := qrcode.Encode(key.URL(), qrcode.Medium, qrSize)
	if err != nil {
		return nil, fmt.Errorf("draw the QR code: %w", err)
	}
	secret := key.Secret()
	t := &totpSetup{URI: key.URL(), Secret: secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))}
	for i := 0; i < len(secret); i += 4 {
		t.Groups = append(t.Groups, secret[i:min(i+4, len(secret))])
	}
	return t, nil
}

// pendingTOTPKey returns the key being set up in r's session for its
// signed-in user, or nil when there is none or it is older than
// totpPendingLifetime.
func (s *Server) pendingTOTPKey(r *http.Request) *otp.Key {
	ctx := r.Context()
	uri := s.sessions.GetString(ctx, sessionTOTPPending)
	if uri == "" || s.sessions.GetInt64(ctx, sessionTOTPPendingUser) != int64(currentUser(r).ID) {
		return nil
	}
	age := s.now().Sub(time.Unix(s.sessions.GetInt64(ctx, sessionTOTPPendingAt), 0))
	if age > totpPendingLifetime || age < -time.Minute {
		return nil
	}
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || !users.ValidTOTPSecret(key.Secret()) {
		return nil
	}
	return key
}

// forgetPendingTOTP removes the key being set up from the session.
func (s *Server) forgetPendingTOTP(r *http.Request) {
	if s.sessions.Exists(r.Context(), sessionTOTPPending) {
		s.sessions.Remove(r.Context(), sessionTOTPPending)
		s.sessions.Remove(r.Context(), sessionTOTPPendingAt)
		s.sessions.Remove(r.Context(), sessionTOTPPendingUser)
	}
}

// setupKey is the key to set up for the signed-in user: the session's,
// or a new one, kept in the session.
func (s *Server) setupKey(r *http.Request) (*otp.Key, error) {
	if key := s.pendingTOTPKey(r); key != nil {
		return key, nil
	}
	key, err := s.users.NewTOTPKey(currentUser(r), s.cfg.AppName)
	if err != nil {
		return nil, err
	}
	s.sessions.Put(r.Context(), sessionTOTPPending, key.URL())
	s.sessions.Put(r.Context(), sessionTOTPPendingAt, s.now().Unix())
	s.sessions.Put(r.Context(), sessionTOTPPendingUser, int64(currentUser(r).ID))
	return key, nil
}

// renderTwoFactor renders /user/two-factor for the signed-in user: the
// set-up of a new key when the app is off (f its form), its management
// when it is on (d's forms, when given, hold the problems of a refused
// post).
func (s *Server) renderTwoFactor(w http.ResponseWriter, r *http.Request, status int, d twoFactorData) error {
	me := currentUser(r)
	var err error
	if d.Factors, err = s.users.SecondFactors(r.Context(), me.ID); err != nil {
		return err
	}
	if d.form == nil {
		d.form = newForm()
	}
	if d.Regenerate == nil {
		d.Regenerate = newForm()
	}
	if d.Disable == nil {
		d.Disable = newForm()
	}
	d.Password, d.Directory = me.HasPassword() || me.Directory(), me.Directory()
	d.RecentSignIn = s.recentSignIn(r)
	if !d.Factors.TOTP && d.Codes == nil {
		key, err := s.setupKey(r)
		if err != nil {
			return err
		}
		if d.Key, err = newTOTPSetup(key); err != nil {
			return err
		}
		d.KeyLost = s.cfg.GeneratedSecretKey
	} else {
		s.forgetPendingTOTP(r)
	}
	return s.render(w, r, status, "pages/two-factor.html", d)
}

func (s *Server) twoFactorPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderTwoFactor(w, r, http.StatusOK, twoFactorData{})
}

// enableTwoFactor turns the app on with the session's key, once the code
// (field code) shows the app makes its codes, and shows the recovery
// codes, this once. A wrong code costs nothing but the address's budget
// (the route's): the one typing it has the key already.
func (s *Server) enableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	f, err := s.parseForm(w, r, "code", "password")
	if err != nil {
		return err
	}
	key := s.pendingTOTPKey(r)
	if key == nil {
		if f, err := s.users.SecondFactors(r.Context(), me.ID); err != nil {
			return err
		} else if f.TOTP {
			return s.alreadyOn(w, r)
		}
		session.AddFlash(r.Context(), s.sessions, "error", "The key to set up expired: scan this new one, then enter the code it shows.")
		http.Redirect(w, r, "/user/two-factor", http.StatusSeeOther)
		return nil
	}
	if strings.TrimSpace(f.get("code")) == "" {
		f.fail("code", "Enter the 6-digit code your app shows for this account.")
		return s.renderTwoFactor(w, r, http.StatusUnprocessableEntity, twoFactorData{form: f})
	}
	// Turning the app on with only someone's session would lock its
	// owner out: a sign-in that is not recent shows the password too.
	if !s.recentSignIn(r) {
		if me.HasPassword() || me.Directory() {
			if f.get("password") == "" {
				f.fail("password", "Enter your password: you signed in more than 10 minutes ago.")
			} else if err := s.confirmOwner(r, me, f, "password", ""); err != nil {
				return err
			}
		} else {
			f.fail("", "For your safety, turning the app on needs a recent sign-in: sign out, sign in again, then set it up within 10 minutes.")
		}
		if !f.ok() {
			f.Values["password"] = ""
			return s.renderTwoFactor(w, r, http.StatusUnprocessableEntity, twoFactorData{form: f})
		}
	}
	codes, err := s.users.EnableTOTP(r.Context(), me.ID, key.Secret(), f.get("code"))
	switch {
	case errors.Is(err, users.ErrWrongCode):
		f.fail("code", "This code is not right: enter the newest code the app shows for this account, and check that your phone's clock is right.")
		f.Values["code"] = ""
		return s.renderTwoFactor(w, r, http.StatusUnprocessableEntity, twoFactorData{form: f})
	case errors.Is(err, users.ErrTOTPEnabled):
		s.forgetPendingTOTP(r)
		return s.alreadyOn(w, r)
	case err != nil:
		return err
	}
	s.forgetPendingTOTP(r)
	s.logger.InfoContext(r.Context(), "authenticator app turned on", "user_id", me.ID)
	return s.renderTwoFactor(w, r, http.StatusOK, twoFactorData{Codes: codes, Enabled: true})
}

// alreadyOn answers a set-up of an app that is on (from another tab, or
// a post sent twice): its page, which says so.
func (s *Server) alreadyOn(w http.ResponseWriter, r *http.Request) error {
	session.AddFlash(r.Context(), s.sessions, "info", "Your authenticator app is already on.")
	http.Redirect(w, r, "/user/two-factor", http.StatusSeeOther)
	return nil
}

// disableTwoFactor turns the app off. A stolen session alone must not be
// able to: it needs the account's password (the directory's, for a
// directory account; for an account without one, a sign-in within
// recentWindow) and a current code or a recovery code. Like a password
// change it signs out every other session; this one goes on.
func (s *Server) disableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	f, err := s.parseForm(w, r, "password", "code")
	if err != nil {
		return err
	}
	refused := func() error {
		f.Values["password"], f.Values["code"] = "", ""
		return s.renderTwoFactor(w, r, http.StatusUnprocessableEntity, twoFactorData{Disable: f})
	}
	needsPassword := me.HasPassword() || me.Directory()
	password := ""
	if needsPassword {
		password = f.get("password")
		if password == "" {
			f.fail("password", "Enter your password.")
		}
	} else if !s.recentSignIn(r) {
		f.fail("", "For your safety, turning the app off needs a recent sign-in: sign out, sign in again, then turn it off within 10 minutes.")
	}
	if strings.TrimSpace(f.get("code")) == "" {
		f.fail("code", "Enter the 6-digit code from your app, or one of your recovery codes.")
	}
	if !f.ok() {
		return refused()
	}
	ctx := r.Context()
	var passwordBudget guessBudget
	if needsPassword {
		passwordBudget = s.ownBudget(r, me)
		if err := s.spendGuess(ctx, passwordBudget); err != nil {
			return err
		}
	}
	codeBudget := secondFactorBudget(me.ID)
	if err := s.spendCode(ctx, codeBudget); err != nil {
		return err
	}
	u, err := s.users.DisableTOTP(ctx, me.ID, s.sessions.GetString(ctx, sessionUserKey), password, f.get("code"))
	if needsPassword && (err == nil || errors.Is(err, users.ErrWrongCode) || errors.Is(err, users.ErrUnreadableKey)) {
		// DisableTOTP checks the password before the code: it was right.
		s.rightGuess(ctx, passwordBudget)
	}
	switch {
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail("password", "This is not your password.")
		return refused()
	case errors.Is(err, users.ErrWrongCode):
		f.fail("code", "This code is not right, or it was used already: enter the newest code from your app, or an unused recovery code.")
		return refused()
	case errors.Is(err, users.ErrUnreadableKey):
		s.logger.ErrorContext(ctx, "authenticator key cannot be decrypted: SECRET_KEY changed without the old key in SECRET_KEY_FALLBACKS", "user_id", me.ID)
		f.fail("code", "Codes from your app cannot be checked at the moment: use one of your recovery codes.")
		return refused()
	case errors.Is(err, users.ErrNoSecondFactor):
		session.AddFlash(ctx, s.sessions, "info", "Your authenticator app is already off.")
		http.Redirect(w, r, "/user/two-factor", http.StatusSeeOther)
		return nil
	case errors.Is(err, users.ErrSessionEnded):
		// Another request ended this session first: it is over.
		return s.signOut(w, r)
	case refusalOf(err) != nil:
		// A directory that is down, or that refuses this user now.
		s.logger.WarnContext(ctx, "directory password check failed", "err", err)
		return err
	case err != nil:
		return err
	}
	s.rightGuess(ctx, codeBudget)
	// The other sessions ended with the new session key; this one goes
	// on with it. That is no new sign-in.
	if err := s.keepSession(w, r, u); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "authenticator app turned off", "user_id", me.ID)
	s.flashAndGo(w, r, "Your authenticator app is off, its recovery codes no longer work, and every other session of yours is signed out.", "/user/security")
	return nil
}

// regenerateRecoveryCodes replaces the recovery codes with new ones,
// shown this once. It needs a code from the app (field code), not a
// recovery code: a stolen session must not be able to read a fresh set,
// and a recovery code is what someone who lost the app holds.
func (s *Server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	f, err := s.parseForm(w, r, "code")
	if err != nil {
		return err
	}
	refused := func() error {
		f.Values["code"] = ""
		return s.renderTwoFactor(w, r, http.StatusUnprocessableEntity, twoFactorData{Regenerate: f})
	}
	ctx := r.Context()
	if factors, err := s.users.SecondFactors(ctx, me.ID); err != nil {
		return err
	} else if !factors.TOTP {
		// A page left open while the app was turned off elsewhere.
		session.AddFlash(ctx, s.sessions, "info", "Your authenticator app is off: recovery codes come with setting it up.")
		http.Redirect(w, r, "/user/two-factor", http.StatusSeeOther)
		return nil
	}
	if strings.TrimSpace(f.get("code")) == "" {
		f.fail("code", "Enter the 6-digit code your app shows now.")
		return refused()
	}
	budget := secondFactorBudget(me.ID)
	if err := s.spendCode(ctx, budget); err != nil {
		return err
	}
	err = s.users.VerifyTOTP(ctx, me.ID, f.get("code"))
	switch {
	case errors.Is(err, users.ErrWrongCode):
		f.fail("code", "This code is not right, or it was used already: enter the newest code your app shows (recovery codes do not work here).")
		return refused()
	case errors.Is(err, users.ErrUnreadableKey):
		s.logger.ErrorContext(ctx, "authenticator key cannot be decrypted: SECRET_KEY changed without the old key in SECRET_KEY_FALLBACKS", "user_id", me.ID)
		f.fail("code", "Codes from your app cannot be checked at the moment: turn the app off with a recovery code, then set it up again.")
		return refused()
	case err != nil:
		return err
	}
	s.rightGuess(ctx, budget)
	codes, err := s.users.RegenerateRecoveryCodes(ctx, me.ID)
	if errors.Is(err, users.ErrNoSecondFactor) {
		// Turned off meanwhile, from another request.
		http.Redirect(w, r, "/user/two-factor", http.StatusSeeOther)
		return nil
	}
	if err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "recovery codes renewed", "user_id", me.ID)
	return s.renderTwoFactor(w, r, http.StatusOK, twoFactorData{Codes: codes})
}

// resetSecondFactors removes every second factor of a user (the app, its
// recovery codes, passkeys) for an admin who checked it is them, and
// signs them out everywhere; not the admin's own. The security log records it, the admin as
// actor.
func (s *Server) resetSecondFactors(w http.ResponseWriter, r *http.Request) error {
	u, err := s.targetUser(r)
	if err != nil {
		return err
	}
	admin := currentUser(r)
	if u.ID == admin.ID {
		// Their own would skip what turning them off asks (the password
		// and a code): a stolen admin session must not remove its
		// owner's second factors either.
		return errStatus(http.StatusForbidden, "Your own second factors are turned off on your Security page (/user/security), which asks for your password and a code; another admin can reset them.")
	}
	if err := s.users.ResetSecondFactorsBy(r.Context(), admin.ID, u.ID); err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "admin reset second factors", "admin_id", admin.ID, "user_id", u.ID)
	s.flashAndGo(w, r, "Reset the second factors of "+u.Email+": they sign in with their password alone, and are signed out everywhere.", fmt.Sprintf("/admin/users/%d/edit", u.ID))
	return nil
}

// loadSecondFactors loads the two-step sign-in card of the security page.
func (s *Server) loadSecondFactors(r *http.Request, data *securityData) error {
	var err error
	data.SecondFactors, err = s.users.SecondFactors(r.Context(), currentUser(r).ID)
	data.SetupRequired = s.mfaRequired(r, currentUser(r))
	return err
}
