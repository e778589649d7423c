-- Second factors (internal/users/mfa.go, passkeys.go). user_totp holds
-- an account's authenticator-app key, encrypted with a key derived from
-- SECRET_KEY (keyring.SecondFactor) and bound to the user, and the last
-- time step a code was accepted for, so no code counts twice.
-- recovery_codes are the ten single-use codes shown once at enrolment,
-- kept as SHA-256 hashes (each code has 50 random bits); used_at marks a
-- used one. passkeys are WebAuthn credentials: credential_id is the
-- credential ID in base64url (unique across accounts), credential the
-- go-webauthn credential as JSON (public key, flags, transports), and
-- sign_count its last signature counter. webauthn_challenges are pending
-- passkey ceremonies, each used once (deleted when used) and purged when
-- expired; user_id is NULL for a sign-in with no name typed yet.
-- Deleting an account deletes all of these. Times are UTC.

-- +goose Up
CREATE TABLE user_totp (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret BLOB NOT NULL,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL
);
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash VARCHAR(64) NOT NULL,
    used_at DATETIME NULL,
    created_at DATETIME NOT NULL
);
CREATE INDEX recovery_codes_user_id_idx ON recovery_codes (user_id);
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    credential_id VARCHAR(255) NOT NULL UNIQUE,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    last_used_at DATETIME NULL
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);
CREATE TABLE webauthn_challenges (
    id VARCHAR(64) PRIMARY KEY,
    user_id INTEGER NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose VARCHAR(32) NOT NULL,
    data TEXT NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
