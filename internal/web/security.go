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
	// Events are the account's recent security events, newest first
	// (events.go).
	Events []eventRow
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) error {
	d := securityData{form: newForm()}
	var err error
	if d.Events, err = s.recentActivity(r.Context(), currentUser(r).ID); err != nil {
		return err
	}
	return s.render(w, r, http.StatusOK, "pages/security.html", d)
}
