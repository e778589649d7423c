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
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) error {
	return s.render(w, r, http.StatusOK, "pages/security.html", securityData{form: newForm()})
}
