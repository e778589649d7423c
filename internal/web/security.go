// The account's security page (/user/security): the password, the ways
// into the account (linked identities), the sessions, and the account's
// recent security events ("was this you?"). Each section's data is
// loaded by its own part below.

package web

import (
	"net/http"
)

// securityData is the data of templates/pages/security.html.
type securityData struct {
	*form
	// Identities are the identities linked to the account, and Providers
	// the providers it may link (sso.go).
	Identities []identityRow
	Providers  []ssoButton
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) error {
	data := securityData{form: newForm()}
	if err := s.loadIdentities(r, &data); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/security.html", data)
}
