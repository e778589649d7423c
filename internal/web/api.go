package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/launchkit/launchkit/internal/db"
	"github.com/launchkit/launchkit/internal/users"
)

// The JSON API under /api/v1. It uses no session and no cookies, so it
// needs no CSRF protection: a caller proves who it is with an API key in
// an "Authorization: Bearer" header, and gets a key by sending an email
// and password to /api/v1/credentials. Like the /user/apikeys pages, it
// is for users with users.APIKeyRole. Its handlers return their errors
// like every other (handler.go): respond's answer is JSON under /api/.

// maxJSONBytes bounds an API request body; more is answered with 413.
const maxJSONBytes = 16 << 10

// credentialsKeyName labels the keys /api/v1/credentials makes, so their
// owner can tell them from the ones made on the page.
const credentialsKeyName = "created with /api/v1/credentials"

// writeJSON writes v as the JSON response body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads the request body, one JSON value, into v: a body too
// large is a 413, anything that is not one JSON object of the expected
// shape a 400.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errStatus(http.StatusRequestEntityTooLarge, "")
	case err != nil:
		return errStatus(http.StatusBadRequest, "The body must be a JSON object.")
	case !plainStrings(reflect.ValueOf(v)):
		return errStatus(http.StatusBadRequest, badTextMessage)
	}
	return nil
}

// plainStrings reports whether every string in v (through pointers,
// structs, slices and maps) passes plainText.
func plainStrings(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return db.PlainText(v.String())
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || plainStrings(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if !plainStrings(v.Field(i)) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if !plainStrings(v.Index(i)) {
				return false
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if !plainStrings(k) || !plainStrings(v.MapIndex(k)) {
				return false
			}
		}
	}
	return true
}

// createCredentials trades an email and password for a new API key:
// 201 {"id": 7, "key": "lk_…"}. The key is in this response only.
func (s *Server) createCredentials(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Email    string `json:"email"`
		Username string `json:"username"` // with USER_LDAP, instead of email
		Password string `json:"password"`
		// OTP is a code from the authenticator app, or a recovery code,
		// for an account with a second factor.
		OTP string `json:"otp"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	name := in.Email
	if s.cfg.UserLDAP && in.Username != "" {
		name = in.Username
	}
	if name == "" || in.Password == "" {
		fields := `Send "email" and "password".`
		if s.cfg.UserLDAP {
			fields = `Send "username" and "password".`
		}
		return errStatus(http.StatusBadRequest, fields)
	}
	budget := sharedBudget(s.guessKey(name)) // no cookies: no device budget
	if err := s.spendGuess(r.Context(), budget); err != nil {
		return err
	}
	u, err := s.checkPassword(r.Context(), name, in.Password, budget, s.users.SignInForAPI)
	if errors.Is(err, users.ErrSecondFactorRequired) {
		return errStatus(http.StatusForbidden, secondFactorFirstMessage)
	}
	if errors.Is(err, users.ErrInvalidCredentials) && s.cfg.UserLDAP {
		return errStatus(http.StatusUnauthorized, "The username or password is not right.")
	}
	if err != nil {
		return err
	}
	if err := s.apiSecondFactor(r.Context(), u, in.OTP); err != nil {
		return err
	}
	if err := s.spendKeyCreation(r.Context(), u.ID); err != nil {
		return err
	}
	k, raw, err := s.users.CreateAPIKey(r.Context(), u.ID, credentialsKeyName)
	if err != nil {
		return err
	}
	s.logger.InfoContext(r.Context(), "API key created", "user_id", u.ID, "key_id", k.ID, "prefix", k.Prefix, "via", "api")
	w.Header().Set("Cache-Control", privateNoStore)
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "key": raw})
	return nil
}

// secondFactorFirstMessage refuses an API key to an account whose role
// needs a second factor it has not set up (MFA_REQUIRED_ROLES).
const secondFactorFirstMessage = "Your role needs a second factor: set one up on the site (/user/security) first."

// apiSecondFactor checks the second factor of u, whose password the API
// accepted: otp, a code from the authenticator app or a recovery code,
// when u has one (from the same budget as the code page). An account
// whose only second factor is a passkey, which an API client cannot
// show, gets no key here.
func (s *Server) apiSecondFactor(ctx context.Context, u *users.User, otp string) error {
	if !u.SecondFactor {
		return nil // (an account whose role needs one is refused by SignInForAPI)
	}
	factors, err := s.users.SecondFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	if !factors.TOTP {
		return errStatus(http.StatusForbidden, "This account signs in with a passkey, which an API client cannot use: create an API key on the site (/user/apikeys).")
	}
	if strings.TrimSpace(otp) == "" {
		return errUnauthorized(`Bearer realm="api"`, `This account has a second factor: send "otp" too, a code from the authenticator app or a recovery code.`)
	}
	budget := secondFactorBudget(u.ID)
	if err := s.spendCode(ctx, budget); err != nil {
		return err
	}
	_, err = s.users.CompleteSignIn(ctx, u, "", otp)
	if errors.Is(err, users.ErrWrongCode) || errors.Is(err, users.ErrUnreadableKey) {
		return errUnauthorized(`Bearer realm="api"`, `The "otp" code is not right, or it was used already.`)
	}
	if err != nil {
		return err
	}
	s.rightGuess(ctx, budget)
	return nil
}

// requireAPIKey authenticates the request by its bearer API key and puts
// the key's user into the context (currentUser). A missing or invalid key
// is a 401 with a WWW-Authenticate challenge (RFC 6750); a user who lost
// users.APIKeyRole since making the key gets 403.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r)
		if !ok {
			s.respond(w, r, errUnauthorized(`Bearer realm="api"`, "Send your API key in an \"Authorization: Bearer\" header."))
			return
		}
		u, err := s.users.AuthenticateAPIKey(r.Context(), raw)
		if err != nil {
			s.respond(w, r, err)
			return
		}
		s.noteReportedUser(r.Context(), u)
		// What a key's user is sent is theirs alone, like a signed-in page.
		w.Header().Set("Cache-Control", privateNoStore)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// bearerToken returns the credentials of an "Authorization: Bearer …"
// header (the scheme is case-insensitive).
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// apiUser is the JSON form of a user.
type apiUser struct {
	ID             uint     `json:"id"`
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	Roles          []string `json:"roles"`
	EmailConfirmed bool     `json:"email_confirmed"`
}

// me describes the caller.
func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	u := currentUser(r)
	writeJSON(w, http.StatusOK, apiUser{
		ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.RoleNames(), EmailConfirmed: u.EmailConfirmedAt != nil,
	})
	return nil
}
