package web_test

import (
	"net/http"
	"testing"
)

// TestPasskeysAreOffWhenBaseURLIsAnIPAddress: WebAuthn takes no IP
// address as a relying party ID, so with BASE_URL=http://127.0.0.1:…
// the site offers no passkeys (no button, no autofill on the sign-in
// page, a note on the security page) and a ceremony's start answers 404
// saying why, never a 500.
func TestPasskeysAreOffWhenBaseURLIsAnIPAddress(t *testing.T) {
	t.Parallel()
	s := newSite(t, map[string]string{"BASE_URL": "http://127.0.0.1:8000"})
	s.get("/user/sign-in").status(http.StatusOK).lacks("passkey-sign-in", "webauthn")
	v := s.visitor()
	v.postJSON("/user/sign-in/passkey/begin", map[string]any{}).status(http.StatusNotFound).contains("Passkeys are off on this site")
	ada := s.signedIn("ada@example.com")
	ada.get("/user/security").status(http.StatusOK).contains(`id="passkeys-off"`).lacks(`id="passkey-add"`)
	ada.postJSON("/user/passkeys/register/begin", map[string]any{}).status(http.StatusNotFound).contains("domain name")
}
