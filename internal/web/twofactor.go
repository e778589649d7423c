// The second step of a sign-in. An account with a second factor (an
// authenticator app, a passkey) whose password (or directory bind, or
// OpenID Connect provider) checked out is only half signed in: its
// session holds the pending sign-in for pendingLifetime and opens nothing
// (loadUser knows no user) but the code page, /user/sign-in/two-factor.
// A code from the app, a recovery code, or a passkey (passkeys.go)
// completes it with a new session token. And MFA_REQUIRED_ROLES: a
// signed-in holder of one of those roles without a second factor reaches
// nothing but the pages that set one up (requireSecondFactorSetup).

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// The session keys of a sign-in waiting for its second step: the user,
// their session key then (a password change meanwhile ends it), when the
// first step passed (Unix seconds), where to go after, and how the first
// step was passed (for the security event).
const (
	pendingUserID  = "pending_user_id"
	pendingUserKey = "pending_user_key"
	pendingAt      = "pending_at"
	pendingNext    = "pending_next"
	pendingMethod  = "pending_method"
	// sessionProviderMFA marks a session signed in through an OpenID
	// Connect provider that reported its own multi-factor check (amr):
	// it counts for MFA_REQUIRED_ROLES.
	sessionProviderMFA = "provider_mfa"
)

// pendingLifetime is how long a half-signed-in session waits for its
// second step.
const pendingLifetime = 5 * time.Minute

// secondFactorsPerAccount bounds the codes tried for one account, from
// anywhere: like guessesPerAccount for passwords. A right code gives its
// guess back.
var secondFactorsPerAccount = guessesPerAccount

// errNoPending: the session holds no sign-in waiting for a second step,
// or it expired.
var errNoPending = errors.New("no sign-in waiting for its second step")

// pendingSignIn is a sign-in waiting for its second step.
type pendingSignIn struct {
	user   *users.User
	method string
	next   string
}

// beginSecondStep half-signs-in u, whose first step (method) passed: a
// new session token (the visitor has proven something), the pending
// sign-in in the session, and the code page.
func (s *Server) beginSecondStep(w http.ResponseWriter, r *http.Request, u *users.User, method, next string) error {
	ctx := r.Context()
	u, err := s.users.EnsureSessionKey(ctx, u)
	if err != nil {
		return err
	}
	if err := s.sessions.RenewToken(ctx); err != nil {
		return err
	}
	s.sessions.Put(ctx, pendingUserID, int64(u.ID))
	s.sessions.Put(ctx, pendingUserKey, u.SessionKey)
	s.sessions.Put(ctx, pendingAt, s.now().Unix())
	s.sessions.Put(ctx, pendingNext, localPath(next))
	s.sessions.Put(ctx, pendingMethod, method)
	s.logger.InfoContext(ctx, "sign-in waits for its second step", "user_id", u.ID, "method", method)
	http.Redirect(w, r, "/user/sign-in/two-factor", http.StatusSeeOther)
	return nil
}

// pending returns the sign-in r's session holds for its second step:
// errNoPending when there is none, it is older than pendingLifetime, or
// its account was deactivated or had its sessions ended since (then it is
// cleared).
func (s *Server) pending(r *http.Request) (*pendingSignIn, error) {
	ctx := r.Context()
	id := s.sessions.GetInt64(ctx, pendingUserID)
	if id <= 0 {
		return nil, errNoPending
	}
	started := time.Unix(s.sessions.GetInt64(ctx, pendingAt), 0)
	if age := s.now().Sub(started); age > pendingLifetime || age < -time.Minute {
		s.clearPending(ctx)
		return nil, errNoPending
	}
	u, err := s.users.ByID(ctx, uint(id))
	if errors.Is(err, users.ErrNotFound) || (err == nil && (!u.Active || !sameSessionKey(u, s.sessions.GetString(ctx, pendingUserKey)))) {
		s.clearPending(ctx)
		return nil, errNoPending
	}
	if err != nil {
		return nil, err
	}
	return &pendingSignIn{user: u, method: s.sessions.GetString(ctx, pendingMethod), next: s.sessions.GetString(ctx, pendingNext)}, nil
}

// clearPending forgets the session's pending sign-in.
func (s *Server) clearPending(ctx context.Context) {
	for _, k := range []string{pendingUserID, pendingUserKey, pendingAt, pendingNext, pendingMethod} {
		s.sessions.Remove(ctx, k)
	}
}

// signInAgain answers a second step with no sign-in waiting: back to the
// sign-in page, saying why.
func (s *Server) signInAgain(w http.ResponseWriter, r *http.Request) error {
	session.AddFlash(r.Context(), s.sessions, "error", "Your sign-in timed out or was not started: sign in again.")
	http.Redirect(w, r, "/user/sign-in", http.StatusSeeOther)
	return nil
}

// secondStepData is the data of templates/pages/sign-in-two-factor.html.
type secondStepData struct {
	*form
	// TOTP: the account has an authenticator app (else only its passkeys
	// and recovery codes are offered); Passkeys: it has passkeys.
	TOTP     bool
	Passkeys bool
}

func (s *Server) secondStepPage(w http.ResponseWriter, r *http.Request) error {
	// A signed-in visitor with a pending sign-in is switching accounts:
	// the code page is the one of the account they switch to.
	p, err := s.pending(r)
	if errors.Is(err, errNoPending) {
		if currentUser(r) != nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return nil
		}
		return s.signInAgain(w, r)
	}
	if err != nil {
		return err
	}
	return s.renderSecondStep(w, r, http.StatusOK, newForm(), p)
}

func (s *Server) renderSecondStep(w http.ResponseWriter, r *http.Request, status int, f *form, p *pendingSignIn) error {
	factors, err := s.users.SecondFactors(r.Context(), p.user.ID)
	if err != nil {
		return err
	}
	f.Values["code"] = ""
	return s.render(w, r, status, "pages/sign-in-two-factor.html", secondStepData{form: f, TOTP: factors.TOTP, Passkeys: factors.Passkeys > 0})
}

// secondFactorBudget is the budget of codes tried for account id.
func secondFactorBudget(id uint) guessBudget {
	return guessBudget{key: fmt.Sprintf("guess:second-factor:%d", id), user: id}
}

// spendCode spends one try of budget before a code is checked: a 429
// when none is left.
func (s *Server) spendCode(ctx context.Context, budget guessBudget) error {
	d := s.limits.Take(ctx, budget.key, secondFactorsPerAccount)
	if d.Allowed {
		return nil
	}
	s.recordLimitHit(ctx, budget.key, budget.user, "second-factor")
	return errTooMany(d.RetryAfter, fmt.Sprintf("Too many wrong codes for this account. %s.", tryAgainIn(d.RetryAfter)))
}

// secondStep checks the code (field code: from the authenticator app, or
// a recovery code) of the pending sign-in, and completes it.
func (s *Server) secondStep(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "code")
	if err != nil {
		return err
	}
	p, err := s.pending(r)
	if errors.Is(err, errNoPending) {
		return s.signInAgain(w, r)
	}
	if err != nil {
		return err
	}
	if strings.TrimSpace(f.get("code")) == "" {
		f.fail("code", "Enter the 6-digit code from your authenticator app, or a recovery code.")
		return s.renderSecondStep(w, r, http.StatusUnprocessableEntity, f, p)
	}
	budget := secondFactorBudget(p.user.ID)
	if err := s.spendCode(r.Context(), budget); err != nil {
		return err
	}
	how, err := s.users.CompleteSignIn(r.Context(), p.user, p.method, f.get("code"))
	switch {
	case errors.Is(err, users.ErrWrongCode):
		f.fail("code", "This code is not right, or it was used already: enter the newest code from your app, or an unused recovery code.")
		return s.renderSecondStep(w, r, http.StatusUnprocessableEntity, f, p)
	case errors.Is(err, users.ErrUnreadableKey):
		s.logger.ErrorContext(r.Context(), "authenticator key cannot be decrypted: SECRET_KEY changed without the old key in SECRET_KEY_FALLBACKS", "user_id", p.user.ID)
		f.fail("code", "Codes from your authenticator app cannot be checked at the moment: use a recovery code or a passkey, or ask an admin.")
		return s.renderSecondStep(w, r, http.StatusUnprocessableEntity, f, p)
	case err != nil:
		return err
	}
	s.rightGuess(r.Context(), budget)
	return s.finishSignIn(w, r, p, how)
}

// finishSignIn completes the pending sign-in p, whose second factor (how)
// was shown: the session of p's user starts with a new token.
func (s *Server) finishSignIn(w http.ResponseWriter, r *http.Request, p *pendingSignIn, how string) error {
	ctx := r.Context()
	s.clearPending(ctx)
	if err := s.startSession(w, r, p.user); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "user signed in", "user_id", p.user.ID, "method", p.method, "second_factor", how)
	if how == users.FactorRecoveryCode {
		left := 0
		if f, err := s.users.SecondFactors(ctx, p.user.ID); err == nil {
			left = f.RecoveryCodesLeft
		}
		message := fmt.Sprintf("You signed in with a recovery code; %d left. Each works once: make new ones on your Security page if you are running out.", left)
		session.AddFlash(ctx, s.sessions, "info", message)
	}
	http.Redirect(w, r, localPath(p.next), http.StatusSeeOther)
	return nil
}

// providerMFA lists the amr values (RFC 8176) by which an OpenID Connect
// provider says its sign-in checked more than a password: "mfa", or a
// possession factor.
var providerMFA = []string{"mfa", "otp", "hwk", "swk", "sms", "tel"}

// providerCheckedMFA reports whether amr says the provider checked a
// second factor itself.
func providerCheckedMFA(amr []string) bool {
	return slices.ContainsFunc(amr, func(v string) bool { return slices.Contains(providerMFA, v) })
}

// mfaRequired reports whether u must set up a second factor before using
// the site (MFA_REQUIRED_ROLES): u holds one of those roles, has no
// second factor, and did not sign in through a provider that checked one.
func (s *Server) mfaRequired(r *http.Request, u *users.User) bool {
	return u != nil && !u.SecondFactor && len(s.cfg.MFARequiredRoles) > 0 &&
		users.RequiresSecondFactor(u, s.cfg.MFARequiredRoles) &&
		s.sessions.GetString(r.Context(), sessionProviderMFA) == ""
}

// secondFactorSetupPaths are what a user whose role needs a second factor
// can reach before setting one up: the pages that set one up, and
// sign-out.
func secondFactorSetupPath(p string) bool {
	switch p {
	case "/user/security", "/user/two-factor", "/user/sign-out":
		return true
	}
	return strings.HasPrefix(p, "/user/passkeys/register/")
}

// requireSecondFactorSetup keeps a signed-in user whom MFA_REQUIRED_ROLES
// requires a second factor of, and who has none, to the pages that set
// one up: a page is a redirect to the security page, anything else a 403
// saying why. Their own profile picture, which those pages show in the
// top bar, is let through too.
func (s *Server) requireSecondFactorSetup(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := currentUser(r); !s.mfaRequired(r, u) || secondFactorSetupPath(r.URL.Path) || ownAvatarPath(r, u) {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, "/user/security", http.StatusSeeOther)
			return
		}
		s.respond(w, r, errStatus(http.StatusForbidden, mfaRequiredMessage))
	})
}

// mfaRequiredMessage says why a user whose role needs a second factor is
// held back.
const mfaRequiredMessage = "Your role needs a second factor before you can go on: set up an authenticator app or add a passkey on your Security page (/user/security)."

// recordProviderSignIn records a sign-in through provider name, noting
// whether the provider checked a second factor.
func (s *Server) recordProviderSignIn(r *http.Request, u *users.User, name string, mfa bool) {
	e := seclog.Event{UserID: seclog.UserRef(u.ID), Kind: seclog.SignIn, Method: "sso:" + name}
	if mfa {
		e.Detail = "with the provider's second factor"
	}
	s.ssoRecord(r, e)
}
