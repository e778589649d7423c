// Signing in through OpenID Connect providers (OIDC_PROVIDERS,
// internal/sso): the start, which sends the browser to the provider; the
// callback, where the provider sends it back; linking an identity to the
// signed-in account and unlinking one. Which account a sign-in opens is
// the users service's rule (users.SignInWithIdentity); here are the
// cookie that carries the sign-in across the provider's pages and the
// pages that answer each outcome.
//
// The start is a POST (a third-party page cannot start a sign-in for the
// visitor: cross-origin protection refuses it). What the callback must
// check — the state, the nonce, the PKCE verifier — travels in a cookie
// of its own, encrypted and signed with keys for that purpose alone
// (keyring.SSOState), that lives ten minutes, is sent only to
// /user/sso/, and is used once: the callback deletes it whatever the
// outcome. So an anonymous visitor still gets no server-side session
// until signed in. It is SameSite=Lax: the provider's redirect back is a
// top-level navigation from another site, which a Strict cookie would
// miss.

package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/seclog"
	"github.com/launchkit/launchkit/internal/sso"
	"github.com/launchkit/launchkit/internal/users"
)

// ssoStateLifetime is how long a sign-in may spend at the provider:
// sso.Provider.Finish refuses an older one anyway.
const ssoStateLifetime = sso.PendingLifetime

// ssoStatePath is the path the state cookie is sent to.
const ssoStatePath = "/user/sso/"

// The intents of a start: sign in (or up), or link the identity to the
// signed-in account.
const (
	intentSignIn = ""
	intentLink   = "link"
)

// ssoState is what the state cookie carries.
type ssoState struct {
	Pending sso.Pending `json:"p"`
	// Intent is intentSignIn or intentLink.
	Intent string `json:"i,omitempty"`
	// UserID is the signed-in account a link is for.
	UserID uint `json:"u,omitempty"`
	// Next is the local path to go to once signed in.
	Next string `json:"x,omitempty"`
}

// ssoStateCookies read and write the state cookie.
type ssoStateCookies struct{ cookie *onceCookie }

func newSSOStateCookies(cfg *config.Config, keys *keyring.Keyring) *ssoStateCookies {
	return &ssoStateCookies{newOnceCookie(cfg, keys, "_sso", ssoStatePath, keyring.SSOState, ssoStateLifetime)}
}

func (c *ssoStateCookies) set(w http.ResponseWriter, st ssoState) error {
	payload, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return c.cookie.set(w, payload)
}

// take reads the request's state cookie and deletes it from the browser:
// a state is used once. A missing, tampered or expired cookie, or one
// made by another deployment, is sso.ErrState.
func (c *ssoStateCookies) take(w http.ResponseWriter, r *http.Request) (ssoState, error) {
	var st ssoState
	payload, ok := c.cookie.take(w, r)
	if !ok {
		return st, fmt.Errorf("no sign-in in progress in this browser: %w", sso.ErrState)
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return st, fmt.Errorf("sign-in state cookie: %w", sso.ErrState)
	}
	return st, nil
}

// ssoButton is a provider's button on the sign-in and security pages.
type ssoButton struct {
	Name, Label string
}

// ssoButtons lists the configured providers' buttons, in their order.
func (s *Server) ssoButtons() []ssoButton {
	if s.sso == nil {
		return nil
	}
	var out []ssoButton
	for _, p := range s.sso.List() {
		out = append(out, ssoButton{Name: p.Name(), Label: p.Label()})
	}
	return out
}

// ssoProvider is the provider the path names, or a 404.
func (s *Server) ssoProvider(r *http.Request) (*sso.Provider, error) {
	if s.sso == nil {
		return nil, errNotFound
	}
	p, ok := s.sso.Get(chi.URLParam(r, "provider"))
	if !ok {
		return nil, errNotFound
	}
	return p, nil
}

// ssoStart sends the browser to the provider (field intent: "link" links
// the identity to the signed-in account instead of signing in; field
// next: where to go once signed in).
func (s *Server) ssoStart(w http.ResponseWriter, r *http.Request) error {
	p, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	f, err := s.parseForm(w, r, "intent", "next", "link_password")
	if err != nil {
		return err
	}
	st := ssoState{Next: localPath(f.get("next"))}
	switch f.get("intent") {
	case intentSignIn:
	case intentLink:
		me := currentUser(r)
		if me == nil {
			return errStatus(http.StatusUnauthorized, "Sign in first, then link "+p.Label()+" from your Security page.")
		}
		if err := s.confirmLinker(r, me, f); err != nil {
			return err
		}
		if !f.ok() {
			f.Values["link_password"] = ""
			return s.renderSecurity(w, r, http.StatusUnprocessableEntity, f)
		}
		st.Intent, st.UserID, st.Next = intentLink, me.ID, "/user/security"
	default:
		return errStatus(http.StatusBadRequest, "The form could not be read.")
	}
	authURL, pending, err := p.Start(r.Context())
	if err != nil {
		return s.ssoFailed(r, p, 0, err)
	}
	st.Pending = pending
	if err := s.ssoState.set(w, st); err != nil {
		return err
	}
	if isHtmx(r) {
		// The forms are not boosted (hx-boost="false"): a request by
		// script would follow the redirect itself, to another origin,
		// which the Content-Security-Policy's connect-src forbids. Should
		// one come anyway, htmx loads the address as a whole page.
		w.Header().Set(hxRedirect, authURL)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	http.Redirect(w, r, authURL, http.StatusSeeOther)
	return nil
}

// confirmLinker checks that the signed-in user me, not only someone
// holding their session, is linking an identity: a linked identity
// outlasts a password change, so a stolen session must not be able to
// add its thief's (confirmOwner, field link_password).
func (s *Server) confirmLinker(r *http.Request, me *users.User, f *form) error {
	return s.confirmOwner(r, me, f, "link_password",
		"For your safety, linking needs a recent sign-in: sign out, sign in again, then link within 10 minutes.")
}

// confirmOwner checks that the signed-in user me, not only someone
// holding their session, asks for a change that a stolen session must
// not make. An account with a password (or a directory account) gives
// it (field; guesses spend the account's budget like the other password
// checks); one without, made by a provider, must have signed in within
// recentWindow (recentSignIn; else the problem is recent). A refusal is
// a problem on f.
func (s *Server) confirmOwner(r *http.Request, me *users.User, f *form, field, recent string) error {
	if !me.HasPassword() && !me.Directory() {
		if !s.recentSignIn(r) {
			f.fail(field, recent)
		}
		return nil
	}
	budget := s.ownBudget(r, me)
	if err := s.spendGuess(r.Context(), budget); err != nil {
		return err
	}
	switch err := s.users.ConfirmPassword(r.Context(), me, f.get(field)); {
	case err == nil:
		s.rightGuess(r.Context(), budget)
	case errors.Is(err, users.ErrInvalidCredentials):
		f.fail(field, "This is not your password.")
	case refusalOf(err) != nil:
		s.logger.WarnContext(r.Context(), "directory password check failed", "err", err)
		return err
	default:
		return err
	}
	return nil
}

// ssoCallback is where the provider sends the browser back: the state
// cookie is used up, the provider's answer checked (sso.Provider.Finish),
// and the identity signs in (or is linked, for a link).
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) error {
	p, err := s.ssoProvider(r)
	if err != nil {
		return err
	}
	st, err := s.ssoState.take(w, r)
	if err == nil && st.Pending.Provider != p.Name() {
		err = fmt.Errorf("the sign-in was started with provider %q: %w", st.Pending.Provider, sso.ErrState)
	}
	if err != nil {
		return s.ssoFailed(r, p, 0, err)
	}
	claims, err := p.Finish(r.Context(), st.Pending, r.URL.Query())
	if err != nil {
		return s.ssoFailed(r, p, st.UserID, err)
	}
	id := users.ProviderIdentity{
		Provider: p.Name(), Issuer: claims.Issuer, Subject: claims.Subject,
		Email: claims.Email, EmailVerified: claims.EmailVerified, Name: claims.Name,
		Roles: p.Roles(claims), EmailAllowed: p.EmailAllowed(claims.Email),
		MayCreate:      p.Config.AllowSignup && s.cfg.UserEnableRegister,
		TrustEmail:     p.Config.TrustEmail,
		GroupsRequired: p.Config.GroupsClaim != "" && len(p.Config.Roles["user"]) > 0,
	}
	if st.Intent == intentLink {
		return s.ssoLink(w, r, p, st, id)
	}
	u, err := s.users.SignInWithIdentity(r.Context(), id)
	if errors.Is(err, users.ErrLinkRequired) {
		// The account's owner sees, among its events, that someone came
		// through the provider with their address.
		var owner uint
		if other, oerr := s.users.ByEmail(r.Context(), id.Email); oerr == nil {
			owner = other.ID
		}
		return s.ssoFailed(r, p, owner, err)
	}
	if err != nil {
		return s.ssoFailed(r, p, 0, err)
	}
	// A provider that checked a second factor itself (amr) counts as
	// both steps; otherwise an account with a second factor here still
	// shows it (twofactor.go).
	mfa := providerCheckedMFA(claims.AMR)
	if !mfa {
		if u.SecondFactor, err = s.users.HasSecondFactor(r.Context(), u.ID); err != nil {
			return err
		}
		if u.SecondFactor {
			return s.beginSecondStep(w, r, u, "sso:"+p.Name(), st.Next)
		}
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	if mfa {
		s.sessions.Put(r.Context(), sessionProviderMFA, p.Name())
	}
	s.recordProviderSignIn(r, u, p.Name(), mfa)
	s.logger.InfoContext(r.Context(), "user signed in", "user_id", u.ID, "method", "sso:"+p.Name(), "provider_mfa", mfa)
	http.Redirect(w, r, localPath(st.Next), http.StatusSeeOther)
	return nil
}

// ssoLink links the identity id to the signed-in account st was started
// by.
func (s *Server) ssoLink(w http.ResponseWriter, r *http.Request, p *sso.Provider, st ssoState, id users.ProviderIdentity) error {
	me := currentUser(r)
	if me == nil || me.ID != st.UserID {
		return errStatus(http.StatusForbidden, "The account that started linking "+p.Label()+" is not the one signed in here: sign in to it and start again from your Security page.")
	}
	if !id.EmailAllowed {
		return s.ssoFailed(r, p, me.ID, users.ErrEmailDomainNotAllowed)
	}
	if err := s.users.Link(r.Context(), me.ID, id); err != nil {
		return s.ssoFailed(r, p, me.ID, err)
	}
	s.flashAndGo(w, r, "Your "+p.Label()+" identity is linked: you can now sign in with it.", "/user/security")
	return nil
}

// ssoUnlink unlinks one of the signed-in user's identities, after the
// confirm step of the security page. It ends the account's other
// sessions, as a password change does; this one goes on.
func (s *Server) ssoUnlink(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u, err := s.users.Unlink(r.Context(), me.ID, id)
	switch {
	case errors.Is(err, users.ErrIdentityNotFound):
		return errStatus(http.StatusNotFound, "You have no such linked identity.")
	case errors.Is(err, users.ErrLastWayIn):
		return errStatus(http.StatusConflict, "This identity is the only way into your account: set a password first (Forgot your password? sends a link to set one) or link another, then unlink it.")
	case err != nil:
		return err
	}
	if err := s.keepSession(w, r, u); err != nil {
		return err
	}
	s.flashAndGo(w, r, "The identity is unlinked, and every other session of yours is signed out.", "/user/security")
	return nil
}

// ssoFailed records a sign-in through p that failed with err (for the
// account userID, when known) and returns the page that says so: each
// outcome a page of its own, never a 500 for what the provider or the
// visitor did.
func (s *Server) ssoFailed(r *http.Request, p *sso.Provider, userID uint, err error) error {
	label := p.Label()
	var status int
	var detail, message string
	switch {
	case errors.Is(err, sso.ErrUnavailable):
		status, detail = http.StatusServiceUnavailable, "provider unavailable"
		message = label + " is not answering right now, so you cannot sign in with it. Try again in a few minutes."
	case errors.Is(err, sso.ErrDenied):
		status, detail = http.StatusForbidden, "consent denied"
		message = "You did not allow " + label + " to sign you in here, so you are not signed in."
	case errors.Is(err, sso.ErrProvider):
		status, detail = http.StatusBadGateway, "provider error"
		message = label + " could not sign you in. Try again, or sign in another way."
	case errors.Is(err, sso.ErrState):
		status, detail = http.StatusBadRequest, "expired or replayed state"
		message = "This sign-in with " + label + " has expired or was already used. Start again from the sign-in page."
	case errors.Is(err, sso.ErrInvalidToken):
		status, detail = http.StatusBadRequest, "invalid ID token"
		message = "The answer from " + label + " could not be verified, so you are not signed in. Start again from the sign-in page."
	case errors.Is(err, users.ErrLinkRequired):
		status, detail = http.StatusConflict, "link required"
		message = "An account here already has the email address your " + label + " account gives. Sign in with your password first, then link " + label + " from your Security page."
	case errors.Is(err, users.ErrEmailDomainNotAllowed):
		status, detail = http.StatusForbidden, "email domain not allowed"
		message = "The email address of your " + label + " account is not one this site takes through " + label + "."
	case errors.Is(err, users.ErrNotInAllowedGroup):
		status, detail = http.StatusForbidden, "not in an allowed group"
		message = "Your " + label + " account is not in a group allowed to use this site: ask your administrator."
	case errors.Is(err, users.ErrAccountInactive):
		status, detail = http.StatusForbidden, "account deactivated"
		message = "This account is deactivated. Ask an admin of this site if you think it should not be."
	case errors.Is(err, users.ErrSignupClosed):
		status, detail = http.StatusForbidden, "signup closed"
		message = "No account here has the email address your " + label + " account gives, and new accounts cannot be made through " + label + ". Ask an admin of this site for an account."
	case errors.Is(err, users.ErrEmailNotVerified):
		status, detail = http.StatusForbidden, "email not verified"
		message = label + " did not confirm your email address, which a new account needs. Confirm it there, then try again."
	case errors.Is(err, users.ErrIdentityTaken):
		status, detail = http.StatusConflict, "identity linked to another account"
		message = "This " + label + " identity is linked to another account here: unlink it there first."
	case errors.Is(err, users.ErrInvalidIdentity):
		status, detail = http.StatusBadRequest, "identity cannot be stored"
		message = label + " gave an identity this site cannot keep. Sign in another way."
	case errors.Is(err, users.ErrEmailUnconfirmed):
		detail = "email unconfirmed"
		s.recordFailure(r, p, userID, detail)
		return err // its page is statusFor's
	default:
		return err
	}
	s.recordFailure(r, p, userID, detail)
	s.logger.InfoContext(r.Context(), "sign-in through a provider refused", "provider", p.Name(), "reason", detail, "err", err)
	return errStatus(status, message)
}

// recordFailure records a failed sign-in through p.
func (s *Server) recordFailure(r *http.Request, p *sso.Provider, userID uint, detail string) {
	e := seclog.Event{Kind: seclog.SignInFailed, Method: "sso:" + p.Name(), Detail: detail}
	if userID != 0 {
		e.UserID = seclog.UserRef(userID)
	}
	s.ssoRecord(r, e)
}

// ssoRecord records e on its own (no change to record it with); a
// failure to record is logged, and the request goes on.
func (s *Server) ssoRecord(r *http.Request, e seclog.Event) {
	if err := s.events.Record(r.Context(), nil, e); err != nil {
		s.logger.ErrorContext(r.Context(), "record a security event", "kind", e.Kind, "err", err)
	}
}

// identityRow is a linked identity on the security page.
type identityRow struct {
	users.Identity
	// Label is its provider's button label (its name, when the provider
	// is no longer configured).
	Label string
}

// loadIdentities fills the security page's linked identities and the
// providers the signed-in user may link.
func (s *Server) loadIdentities(r *http.Request, data *securityData) error {
	me := currentUser(r)
	list, err := s.users.Identities(r.Context(), me.ID)
	if err != nil {
		return err
	}
	for _, id := range list {
		row := identityRow{Identity: id, Label: id.Provider}
		if s.sso != nil {
			if p, ok := s.sso.Get(id.Provider); ok {
				row.Label = p.Label()
			}
		}
		data.Identities = append(data.Identities, row)
	}
	data.Providers = s.ssoButtons()
	return nil
}

// ssoFormTargets lists, each after a space, the origins of the providers'
// issuers: a start's redirect goes to the provider's authorization page,
// and a Content-Security-Policy of form-action 'self' alone would stop
// the browser there (form-action applies to a form's redirects too).
func ssoFormTargets(set *sso.Set) string {
	if set == nil {
		return ""
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range set.List() {
		u, err := url.Parse(p.Config.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if !seen[origin] {
			seen[origin] = true
			b.WriteString(" " + origin)
		}
	}
	return b.String()
}
