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
    user_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    secret VARBINARY(255) NOT NULL,
    last_step BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    CONSTRAINT user_totp_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE recovery_codes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    code_hash VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    used_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL,
    INDEX recovery_codes_user_id_idx (user_id),
    CONSTRAINT recovery_codes_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE passkeys (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(100) NOT NULL,
    credential_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6) NULL,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    INDEX passkeys_user_id_idx (user_id),
    CONSTRAINT passkeys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE webauthn_challenges (
    id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NULL,
    purpose VARCHAR(32) NOT NULL,
    data TEXT NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    INDEX webauthn_challenges_expires_at_idx (expires_at),
    CONSTRAINT webauthn_challenges_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE recovery_codes;
DROP TABLE user_totp;
