// Passkeys: WebAuthn credentials (github.com/go-webauthn/webauthn), table
// passkeys, and the pending ceremonies of table webauthn_challenges
// (migration 00013).

package users

import "time"

// Passkey is a row of passkeys: one WebAuthn credential of a user.
type Passkey struct {
	ID     uint
	UserID uint
	// Name is what the user called it ("Laptop", "Phone").
	Name string
	// CredentialID is the credential's ID, base64url without padding.
	CredentialID string
	// Credential is the go-webauthn credential as JSON.
	Credential string
	SignCount  int64
	CreatedAt  time.Time
	LastUsedAt *time.Time
}
