package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/launchkit/launchkit/internal/users"
)

// The JSON API under /api/v1. It uses no session and no cookies, so it
// needs no CSRF protection: a caller proves who it is with an API key in
// an "Authorization: Bearer" header, and gets a key by sending an email
// and password to /api/v1/credentials. Like the /user/apikeys pages, it
// is for users with users.APIKeyRole. Its errors come from renderError, which
// writes the JSON shape under /api/.

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

// decodeJSON reads the request body, one JSON value, into v. It reports
// false after rendering the error (413 for too large, 400 for anything
// that is not one JSON object of the expected shape).
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		s.renderError(w, r, http.StatusRequestEntityTooLarge, "")
		return false
	case err != nil:
		s.renderError(w, r, http.StatusBadRequest, "The body must be a JSON object.")
		return false
	case !plainStrings(reflect.ValueOf(v)):
		s.renderError(w, r, http.StatusBadRequest, badTextMessage)
		return false
	}
	return true
}

// plainStrings reports whether every string in v (through pointers,
// structs, slices and maps) passes plainText.
func plainStrings(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return plainText(v.String())
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
func (s *Server) createCredentials(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Username string `json:"username"` // with USER_LDAP, instead of email
		Password string `json:"password"`
	}
	if !s.decodeJSON(w, r, &in) {
		return
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
		s.renderError(w, r, http.StatusBadRequest, fields)
		return
	}
	budget := sharedBudget(s.guessKey(name)) // no cookies: no device budget
	if !s.spendGuess(w, r, budget) {
		return
	}
	u, err := s.checkPassword(r.Context(), name, in.Password, budget)
	if errors.Is(err, users.ErrInvalidCredentials) && s.cfg.UserLDAP {
		s.renderError(w, r, http.StatusUnauthorized, "The username or password is not right.")
		return
	}
	if s.refused(w, r, err) {
		return
	}
	if !s.spendKeyCreation(w, r, u.ID) {
		return
	}
	k, raw, err := s.users.CreateAPIKey(r.Context(), u.ID, credentialsKeyName)
	if s.refused(w, r, err) {
		return
	}
	s.logger.InfoContext(r.Context(), "API key created", "user_id", u.ID, "key_id", k.ID, "prefix", k.Prefix, "via", "api")
	w.Header().Set("Cache-Control", privateNoStore)
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "key": raw})
}

// requireAPIKey authenticates the request by its bearer API key and puts
// the key's user into the context (currentUser). A missing or invalid key
// is a 401 with a WWW-Authenticate challenge (RFC 6750); a user who lost
// users.APIKeyRole since making the key gets 403.
func (s *Server) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			s.renderError(w, r, http.StatusUnauthorized, "Send your API key in an \"Authorization: Bearer\" header.")
			return
		}
		u, err := s.users.AuthenticateAPIKey(r.Context(), raw)
		if s.refused(w, r, err) {
			return
		}
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
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	writeJSON(w, http.StatusOK, apiUser{
		ID: u.ID, Email: u.Email, Name: u.Name, Roles: u.RoleNames(), EmailConfirmed: u.EmailConfirmedAt != nil,
	})
}

// apiRefusals are the API's answers to the users service's refusals.
var apiRefusals = append([]refusal{
	{users.ErrInvalidCredentials, http.StatusUnauthorized, "The email address or password is not right."},
	{users.ErrInvalidAPIKey, http.StatusUnauthorized, "The API key is not valid: it is unknown or revoked."},
	{users.ErrEmailUnconfirmed, http.StatusForbidden, "Confirm your email address first: follow the link in the email we sent you, or have a new one sent at /user/resend-confirmation."},
	{users.ErrAPIKeysNotAllowed, http.StatusForbidden, "API keys and API access need the " + users.APIKeyRole + " role."},
	// 409, not 429: the account's state refuses a new key, and no
	// amount of waiting changes that; revoking one does.
	{users.ErrTooManyAPIKeys, http.StatusConflict, fmt.Sprintf("This account has %d working API keys, the most it may hold: revoke one at /user/apikeys, then ask again.", users.MaxAPIKeys)},
}, directoryRefusals...)

// refused answers err, when there is one, with its refusal (a 500 for
// any other error) and reports whether it did.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return false
	}
	for _, a := range apiRefusals {
		if errors.Is(err, a.err) {
			if a.err == users.ErrInvalidAPIKey {
				w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			}
			s.renderError(w, r, a.status, a.message)
			return true
		}
	}
	s.serverError(w, r, err)
	return true
}
