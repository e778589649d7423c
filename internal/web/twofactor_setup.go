// Setting up the authenticator app (/user/two-factor): enrolment with a
// QR code, recovery codes, turning it off; the security page's two-step
// sign-in card; an admin's reset of a user's second factors.

package web

import (
	"net/http"
)

func (s *Server) twoFactorPage(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) enableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) disableTwoFactor(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

func (s *Server) resetSecondFactors(w http.ResponseWriter, r *http.Request) error {
	return errStatus(http.StatusNotImplemented, "not yet")
}

// loadSecondFactors loads the two-step sign-in card of the security page.
func (s *Server) loadSecondFactors(r *http.Request, data *securityData) error {
	var err error
	data.SecondFactors, err = s.users.SecondFactors(r.Context(), currentUser(r).ID)
	data.SetupRequired = s.mfaRequired(r, currentUser(r))
	return err
}
