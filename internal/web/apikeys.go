package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// apiKeysData is the data of templates/pages/apikeys.html.
type apiKeysData struct {
	// Keys are the user's working keys, newest first.
	Keys []users.APIKey
	// Created is the key just made and NewKey its raw form, shown on
	// this one response and never again; both are empty otherwise.
	Created *users.APIKey
	NewKey  string
	// Form is the create form.
	Form *form
	// BaseURL is the site's address, for the usage example.
	BaseURL string
	// MaxKeys is how many working keys an account may hold.
	MaxKeys int
}

// renderAPIKeys renders the API keys page with the user's current keys.
func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, p apiKeysData) error {
	keys, err := s.users.ListAPIKeys(r.Context(), currentUser(r).ID)
	if err != nil {
		return err
	}
	p.Keys, p.BaseURL, p.MaxKeys = keys, s.cfg.BaseURL, users.MaxAPIKeys
	return s.render(w, r, status, "pages/apikeys.html", p)
}

func (s *Server) apiKeysPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderAPIKeys(w, r, http.StatusOK, apiKeysData{Form: newForm()})
}

// createAPIKey makes a key and shows it on the response itself, not
// after a redirect: the raw key must never be stored, not even in the
// session for a flash.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	f, err := s.parseForm(w, r, "name")
	if err != nil {
		return err
	}
	u := currentUser(r)
	if err := s.spendKeyCreation(r.Context(), u.ID); err != nil {
		return err
	}
	k, raw, err := s.users.CreateAPIKey(r.Context(), u.ID, f.get("name"))
	switch {
	case errors.Is(err, users.ErrInvalidAPIKeyName):
		f.fail("name", fmt.Sprintf("Use at most %d characters.", users.MaxAPIKeyNameLen))
		return s.renderAPIKeys(w, r, http.StatusUnprocessableEntity, apiKeysData{Form: f})
	case errors.Is(err, users.ErrTooManyAPIKeys):
		// 409: waiting will not help, revoking a key will.
		f.fail("", fmt.Sprintf("You have %d working API keys, the most an account may hold: revoke one you no longer use, then create another.", users.MaxAPIKeys))
		return s.renderAPIKeys(w, r, http.StatusConflict, apiKeysData{Form: f})
	case err != nil:
		return err
	}
	s.logger.InfoContext(r.Context(), "API key created", "user_id", u.ID, "key_id", k.ID, "prefix", k.Prefix)
	return s.renderAPIKeys(w, r, http.StatusOK, apiKeysData{Created: k, NewKey: raw, Form: newForm()})
}

// deleteAPIKey revokes one of the user's keys. Someone else's key, a
// revoked one or a malformed id are all "not found".
func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	u := currentUser(r)
	if err := s.users.RevokeAPIKey(r.Context(), u.ID, id); err != nil {
		return err // users.ErrAPIKeyNotFound: "You have no such API key."
	}
	s.logger.InfoContext(r.Context(), "API key revoked", "user_id", u.ID, "key_id", id)
	s.flashAndGo(w, r, "The API key is revoked: it no longer works.", "/user/apikeys")
	return nil
}
