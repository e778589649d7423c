// Passkeys (WebAuthn, github.com/go-webauthn/webauthn): adding, listing
// and removing them on the security page, signing in with one and no
// password, and using one as the second step after a password.
//
// Each ceremony is two posts by static/js/passkeys.js: begin answers the
// options for navigator.credentials (JSON), finish checks what the
// authenticator signed and answers {"redirect": …}. Between the two the
// ceremony (the library's SessionData: the challenge, the user, the
// credentials allowed) waits in table webauthn_challenges for five
// minutes, named by a cookie of its own signed with keys for that
// purpose alone (keyring.PasskeyChallenge), sent only to /user/. Finish
// deletes the row: a ceremony is used once, so a replayed answer finds
// nothing. So the sign-in page can offer passkeys in the browser's
// autofill without giving its visitors a session.
//
// The relying party is BASE_URL: its host (without the port) is the RP ID
// and its origin the only one a ceremony may come from. User verification
// (a PIN, a fingerprint) is required, so a passkey counts as both factors;
// and a new passkey must be discoverable (resident), so it can sign in
// without an email address typed.

package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/launchkit/launchkit/internal/config"
	"github.com/launchkit/launchkit/internal/keyring"
	"github.com/launchkit/launchkit/internal/session"
	"github.com/launchkit/launchkit/internal/users"
)

// passkeyCeremonyLifetime is how long a ceremony may take, from its
// begin to its finish: the browser's timeout and the row's.
const passkeyCeremonyLifetime = 5 * time.Minute

// passkeyCookiePath is where the ceremony cookie is sent: every passkey
// route is under /user/.
const passkeyCookiePath = "/user/"

// maxPasskeyBody bounds the JSON a finish reads.
const maxPasskeyBody = 64 << 10

// passkeyMethod is the security log's method of a sign-in with a passkey
// and no password.
const passkeyMethod = "passkey"

// passkeyRow is one passkey on the security page.
type passkeyRow struct {
	ID         uint
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// Errors are the problems of its remove form (fields password and
	// code), when that form was just refused.
	Errors map[string]string
}

// PasswordField is the password input of the row's remove form.
func (p passkeyRow) PasswordField() passwordField {
	return passwordField{ID: fmt.Sprintf("passkey-%d-password", p.ID), Name: "password", Label: "Your password",
		Autocomplete: "current-password", Error: p.Errors["password"]}
}

// webAuthn is the relying party of this site, from BASE_URL and APP_NAME.
func (s *Server) webAuthn() (*webauthn.WebAuthn, error) {
	if s.relyingParty == nil {
		return nil, errStatus(http.StatusNotFound, passkeysOffMessage)
	}
	return s.relyingParty, nil
}

// passkeysOffMessage answers the passkey routes of a site whose BASE_URL
// cannot name a relying party.
const passkeysOffMessage = "Passkeys are off on this site: its BASE_URL names it by an IP address, and passkeys need a domain name (localhost will do in development)."

// newRelyingParty is the site as a WebAuthn relying party: its ID is
// BASE_URL's host, the only origin it accepts BASE_URL's. WebAuthn
// refuses an IP address as the ID (BASE_URL=http://127.0.0.1:8000): then
// passkeys are off, and the site says so instead of offering them.
func newRelyingParty(cfg *config.Config) (*webauthn.WebAuthn, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("BASE_URL: %w", err)
	}
	return webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: cfg.AppName,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: passkeyCeremonyLifetime, TimeoutUVD: passkeyCeremonyLifetime},
			Registration: webauthn.TimeoutConfig{Timeout: passkeyCeremonyLifetime, TimeoutUVD: passkeyCeremonyLifetime},
		},
	})
}

// newPasskeyCookie is the cookie that names a pending ceremony (its ID
// in webauthn_challenges).
func newPasskeyCookie(cfg *config.Config, keys *keyring.Keyring) *onceCookie {
	return newOnceCookie(cfg, keys, "_passkey", passkeyCookiePath, keyring.PasskeyChallenge, passkeyCeremonyLifetime)
}

// beginCeremony stores the ceremony data for purpose (of user id, 0 when
// not known), names it in the cookie and answers options.
func (s *Server) beginCeremony(w http.ResponseWriter, r *http.Request, purpose string, id uint, data *webauthn.SessionData, options any) error {
	cid, err := s.users.SaveChallenge(r.Context(), purpose, id, data, s.now().Add(passkeyCeremonyLifetime))
	if err != nil {
		return err
	}
	if err := s.passkeyCookie.set(w, []byte(cid)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, options)
	return nil
}

// errCeremony answers a finish whose ceremony is gone: not begun in this
// browser, expired, or used already.
var errCeremony = errStatus(http.StatusBadRequest, "This passkey request expired or was used already: try again.")

// takeCeremony uses up the ceremony the request's cookie names, of
// purpose, and deletes the cookie: it returns the ceremony's user (0 when
// none) and data.
func (s *Server) takeCeremony(w http.ResponseWriter, r *http.Request, purpose string) (uint, *webauthn.SessionData, error) {
	raw, ok := s.passkeyCookie.take(w, r)
	cid := string(raw)
	if !ok || cid == "" {
		return 0, nil, errCeremony
	}
	id, data, err := s.users.TakeChallenge(r.Context(), cid, purpose, s.now())
	if errors.Is(err, users.ErrNoChallenge) {
		return 0, nil, errCeremony
	}
	return id, data, err
}

// passkeyAnswer is the body of a finish: the credential as the browser
// gave it (PublicKeyCredential in its JSON form), and for a registration
// its name, for a sign-in where to go next.
type passkeyAnswer struct {
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
	Next       string          `json:"next"`
}

// readPasskeyAnswer reads a finish's JSON body.
func readPasskeyAnswer(w http.ResponseWriter, r *http.Request) (*passkeyAnswer, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPasskeyBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errStatus(http.StatusRequestEntityTooLarge, "")
		}
		return nil, errStatus(http.StatusBadRequest, "The request could not be read.")
	}
	var a passkeyAnswer
	if err := json.Unmarshal(body, &a); err != nil || len(a.Credential) == 0 {
		return nil, errStatus(http.StatusBadRequest, "The request holds no passkey answer.")
	}
	return &a, nil
}

// refusedPasskey answers an assertion or attestation the library refused
// (wrong origin, wrong signature, no user verification, unknown
// credential…): a 400 saying so, never a 500; the reason is logged.
func (s *Server) refusedPasskey(r *http.Request, what string, err error) error {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		s.logger.InfoContext(r.Context(), "passkey refused", "ceremony", what, "err", perr.Details, "info", perr.DevInfo)
	} else {
		s.logger.InfoContext(r.Context(), "passkey refused", "ceremony", what, "err", err)
	}
	return errStatus(http.StatusBadRequest, "This passkey was not accepted: check that you are on the right site, and try again.")
}

// redirectJSON is a finish's answer: where the page goes now.
func redirectJSON(w http.ResponseWriter, to string) error {
	writeJSON(w, http.StatusOK, map[string]string{"redirect": to})
	return nil
}

// errPasskeyNeedsRecentSignIn refuses to add a passkey to a session
// signed in more than recentWindow ago. A passkey signs in alone, and
// outlasts a password change: a stolen session must not be able to add
// its thief's, a permanent way in. A fresh sign-in (with the second step,
// when the account has one) shows it is the owner.
var errPasskeyNeedsRecentSignIn = errStatus(http.StatusForbidden,
	"For your safety, adding a passkey needs a recent sign-in: sign out, sign in again, then add it within 10 minutes.")

// passkeyRegisterBegin answers the options to create a passkey for the
// signed-in user: discoverable, user-verified, none of theirs again.
func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	if !s.recentSignIn(r) {
		return errPasskeyNeedsRecentSignIn
	}
	wu, err := s.users.WebAuthnUser(r.Context(), me)
	if err != nil {
		return err
	}
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	options, data, err := wa.BeginRegistration(wu, webauthn.WithExclusions(wu.CredentialDescriptors()))
	if err != nil {
		return err
	}
	return s.beginCeremony(w, r, users.ChallengeRegister, me.ID, data, options)
}

// passkeyRegisterFinish checks the new credential and stores it under
// its name (field name: 1 to 100 characters, "Passkey" when empty).
func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	me := currentUser(r)
	a, err := readPasskeyAnswer(w, r)
	if err != nil {
		return err
	}
	name, err := users.CleanPasskeyName(a.Name)
	if err != nil {
		return errStatus(http.StatusUnprocessableEntity, fmt.Sprintf("Name the passkey with at most %d characters of plain text.", users.MaxPasskeyName))
	}
	id, data, err := s.takeCeremony(w, r, users.ChallengeRegister)
	if err != nil {
		return err
	}
	if id != me.ID {
		return errCeremony
	}
	if !s.recentSignIn(r) {
		return errPasskeyNeedsRecentSignIn
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(a.Credential)
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeRegister, err)
	}
	wu, err := s.users.WebAuthnUser(r.Context(), me)
	if err != nil {
		return err
	}
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	cred, err := wa.CreateCredential(wu, *data, parsed)
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeRegister, err)
	}
	if _, err := s.users.AddPasskey(r.Context(), me.ID, name, cred); errors.Is(err, users.ErrPasskeyExists) {
		return errStatus(http.StatusConflict, "This passkey is already registered.")
	} else if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "passkey added", "user_id", me.ID)
	session.AddFlash(r.Context(), s.sessions, "success", fmt.Sprintf("Passkey “%s” added: you can now sign in with it.", name))
	return redirectJSON(w, "/user/security")
}

// passkeySignInBegin answers the options to sign in with a discoverable
// passkey, no email address typed (the button, and the browser's
// autofill on the sign-in page).
func (s *Server) passkeySignInBegin(w http.ResponseWriter, r *http.Request) error {
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	options, data, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	return s.beginCeremony(w, r, users.ChallengeSignIn, 0, data, options)
}

// passkeySignInFinish checks the passkey's signature and signs its
// account in (field next: where to go). A passkey is both factors:
// something held, unlocked by something known or been (user verification
// is required).
func (s *Server) passkeySignInFinish(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := readPasskeyAnswer(w, r)
	if err != nil {
		return err
	}
	_, data, err := s.takeCeremony(w, r, users.ChallengeSignIn)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(a.Credential)
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeSignIn, err)
	}
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	var owner *users.WebAuthnUser
	var lookupErr error
	find := func(rawID, handle []byte) (webauthn.User, error) {
		owner, lookupErr = s.users.PasskeyOwner(ctx, rawID, handle)
		return owner, lookupErr
	}
	_, cred, err := wa.ValidatePasskeyLogin(find, *data, parsed)
	if lookupErr != nil && !errors.Is(lookupErr, users.ErrPasskeyNotFound) {
		return lookupErr // the database, not the passkey
	}
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeSignIn, err)
	}
	u := owner.User
	switch {
	case !u.Active:
		return errStatus(http.StatusForbidden, "This account is deactivated: it cannot sign in.")
	case u.Directory():
		// Only the directory knows whether its account still may sign
		// in: it is asked at each sign-in, so a passkey is only ever the
		// second step after the directory password.
		return errStatus(http.StatusForbidden, "Your account comes from the company directory: sign in with your directory password; your passkey is the second step after it.")
	case s.users.RequireConfirmedEmail && u.EmailConfirmedAt == nil:
		return users.ErrEmailUnconfirmed
	}
	if err := s.usePasskey(ctx, u, passkeyMethod, cred); err != nil {
		return err
	}
	if err := s.users.RecordSignIn(ctx, u, passkeyMethod, users.FactorPasskey); err != nil {
		return err
	}
	s.clearPending(ctx)
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "user signed in", "user_id", u.ID, "method", passkeyMethod)
	return redirectJSON(w, localPath(a.Next))
}

// usePasskey stores the signature counter a sign-in of u with cred left;
// a counter that did not go up (a cloned authenticator) is refused with a
// 403 and recorded.
func (s *Server) usePasskey(ctx context.Context, u *users.User, method string, cred *webauthn.Credential) error {
	err := s.users.UsePasskey(ctx, u.ID, cred)
	if !errors.Is(err, users.ErrPasskeyCloned) {
		return err
	}
	s.logger.WarnContext(ctx, "passkey refused: its signature counter did not go up", "user_id", u.ID)
	if rerr := s.users.RecordPasskeyRefused(ctx, u.ID, method, "its signature counter went backwards: the passkey may have been copied"); rerr != nil {
		return rerr
	}
	return errStatus(http.StatusForbidden, "This passkey was refused: it may have been copied. Sign in another way, and remove it on your Security page.")
}

// passkeySecondStepBegin answers the options to use one of the pending
// sign-in's passkeys as its second step.
func (s *Server) passkeySecondStepBegin(w http.ResponseWriter, r *http.Request) error {
	p, err := s.pending(r)
	if errors.Is(err, errNoPending) {
		return errStatus(http.StatusUnauthorized, "Your sign-in timed out or was not started: sign in again.")
	}
	if err != nil {
		return err
	}
	wu, err := s.users.WebAuthnUser(r.Context(), p.user)
	if err != nil {
		return err
	}
	if len(wu.Passkeys) == 0 {
		return errStatus(http.StatusBadRequest, "Your account has no passkey.")
	}
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	options, data, err := wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	return s.beginCeremony(w, r, users.ChallengeSecondFactor, p.user.ID, data, options)
}

// passkeySecondStepFinish checks the passkey of the pending sign-in and
// completes it, as secondStep does with a code (a try spends the
// account's budget of second factors, and a right one gives it back).
func (s *Server) passkeySecondStepFinish(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	a, err := readPasskeyAnswer(w, r)
	if err != nil {
		return err
	}
	p, err := s.pending(r)
	if errors.Is(err, errNoPending) {
		return errStatus(http.StatusUnauthorized, "Your sign-in timed out or was not started: sign in again.")
	}
	if err != nil {
		return err
	}
	id, data, err := s.takeCeremony(w, r, users.ChallengeSecondFactor)
	if err != nil {
		return err
	}
	if id != p.user.ID {
		return errCeremony
	}
	budget := secondFactorBudget(p.user.ID)
	if err := s.spendCode(ctx, budget); err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(a.Credential)
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeSecondFactor, err)
	}
	wu, err := s.users.WebAuthnUser(ctx, p.user)
	if err != nil {
		return err
	}
	wa, err := s.webAuthn()
	if err != nil {
		return err
	}
	cred, err := wa.ValidateLogin(wu, *data, parsed)
	if err != nil {
		return s.refusedPasskey(r, users.ChallengeSecondFactor, err)
	}
	if err := s.usePasskey(ctx, p.user, p.method, cred); err != nil {
		return err
	}
	s.rightGuess(ctx, budget)
	if err := s.users.RecordSignIn(ctx, p.user, p.method, users.FactorPasskey); err != nil {
		return err
	}
	s.clearPending(ctx)
	if err := s.startSession(w, r, p.user); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "user signed in", "user_id", p.user.ID, "method", p.method, "second_factor", users.FactorPasskey)
	return redirectJSON(w, localPath(p.next))
}

// passkeyProblemKey holds, in the context of a refused removal, the
// passkey and the problems of its form, for loadPasskeys.
type passkeyProblemKey struct{}

type passkeyProblem struct {
	id     uint
	errors map[string]string
}

// deletePasskey removes one of the signed-in user's passkeys (another's
// is a 404). Like turning the authenticator app off, it needs the
// password (field password; an account without one, a sign-in within
// recentWindow) and, when the account has an authenticator app, a
// current code from it (field code): a stolen session alone removes
// nothing.
func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	me := currentUser(r)
	pid, err := pathID(r, "id")
	if err != nil {
		return err
	}
	f, err := s.parseForm(w, r, "password", "code")
	if err != nil {
		return err
	}
	pk, err := s.users.PasskeyOf(ctx, me.ID, pid)
	if errors.Is(err, users.ErrPasskeyNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if err := s.confirmOwner(r, me, f, "password",
		"For your safety, removing a passkey needs a recent sign-in: sign out, sign in again, then remove it within 10 minutes."); err != nil {
		return err
	}
	// The code, when the account has an app, spends the account's budget
	// of second factors like every other code: else a thief holding the
	// session and the password could guess codes here without end.
	var codeBudget *guessBudget
	if f.ok() {
		hasTOTP, err := s.users.HasTOTP(ctx, me.ID)
		if err != nil {
			return err
		}
		if hasTOTP {
			budget := secondFactorBudget(me.ID)
			if err := s.spendCode(ctx, budget); err != nil {
				return err
			}
			codeBudget = &budget
		}
	}
	if f.ok() {
		switch err := s.users.RemovePasskey(ctx, me.ID, pk.ID, f.get("code")); {
		case errors.Is(err, users.ErrWrongCode):
			f.fail("code", "This code is not right, or it was used already: enter the newest code from your app, or an unused recovery code.")
		case errors.Is(err, users.ErrUnreadableKey):
			f.fail("code", "Codes from your authenticator app cannot be checked at the moment: use a recovery code.")
		case errors.Is(err, users.ErrPasskeyNotFound):
			return errNotFound
		case err != nil:
			return err
		}
	}
	if !f.ok() {
		r = r.WithContext(context.WithValue(ctx, passkeyProblemKey{}, passkeyProblem{id: pk.ID, errors: f.Errors}))
		return s.renderSecurity(w, r, http.StatusUnprocessableEntity, newForm())
	}
	if codeBudget != nil {
		s.rightGuess(ctx, *codeBudget)
	}
	s.logger.InfoContext(ctx, "passkey removed", "user_id", me.ID)
	s.flashAndGo(w, r, fmt.Sprintf("Passkey “%s” removed.", pk.Name), "/user/security")
	return nil
}

// loadPasskeys loads the passkeys card of the security page.
func (s *Server) loadPasskeys(r *http.Request, data *securityData) error {
	me := currentUser(r)
	list, err := s.users.Passkeys(r.Context(), me.ID)
	if err != nil {
		return err
	}
	problem, _ := r.Context().Value(passkeyProblemKey{}).(passkeyProblem)
	data.Passkeys = nil
	for _, p := range list {
		row := passkeyRow{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt}
		if p.ID == problem.id {
			row.Errors = problem.errors
		}
		data.Passkeys = append(data.Passkeys, row)
	}
	return nil
}
