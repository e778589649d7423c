// The account's security page (/user/security): the password, the ways
// into the account (linked identities), the sessions, and the account's
// recent security events ("was this you?"). Each section's data is
// loaded by its own part below.

package web

import (
	"net/http"

	"github.com/launchkit/launchkit/internal/users"
)

// securityData is the data of templates/pages/security.html. The form
// is "sign out everywhere else" (its password's problem, when refused).
type securityData struct {
	*form
	// Identities are the identities linked to the account, and Providers
	// the providers it may link (sso.go).
	Identities []identityRow
	Providers  []ssoButton
	// Sessions is the Sessions card (sessions.go).
	Sessions sessionsCard
	// SecondFactors is the two-step sign-in card (twofactor_setup.go),
	// and SetupRequired whether MFA_REQUIRED_ROLES holds the user to
	// setting one up.
	SecondFactors users.SecondFactors
	SetupRequired bool
	// Passkeys are the account's passkeys (passkeys.go).
	Passkeys []passkeyRow
	// Events are the account's recent security events, newest first
	// (events.go).
	Events []eventRow
}

func (s *Server) securityPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderSecurity(w, r, http.StatusOK, newForm())
}

// renderSecurity renders the security page with f as the form of "sign
// out everywhere else".
func (s *Server) renderSecurity(w http.ResponseWriter, r *http.Request, status int, f *form) error {
	data := securityData{form: f}
	var err error
	if data.Sessions, err = s.loadSessions(r); err != nil {
		return err
	}
	if err := s.loadSecondFactors(r, &data); err != nil {
		return err
	}
	if err := s.loadPasskeys(r, &data); err != nil {
		return err
	}
	if err := s.loadIdentities(r, &data); err != nil {
		return err
	}
	if data.Events, err = s.recentActivity(r.Context(), currentUser(r).ID); err != nil {
		return err
	}
	return s.render(w, r, status, "pages/security.html", data)
}
