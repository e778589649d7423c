// Passkeys (WebAuthn, github.com/go-webauthn/webauthn): adding, listing
// and removing them on the security page, signing in with one and no
// password, and using one as the second step after a password.

package web

import (
	"net/http"
)

// passkeyRow is one passkey on the security page.
type passkeyRow struct{}

func (s *Server) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) deletePasskey(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) passkeySignInBegin(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) passkeySignInFinish(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) passkeySecondStepBegin(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) passkeySecondStepFinish(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

// loadPasskeys loads the passkeys card of the security page.
func (s *Server) loadPasskeys(r *http.Request, data *securityData) error {
	return nil
}
