-- Identities at OpenID Connect providers (OIDC_PROVIDERS) linked to an
-- account: a sign-in through a provider finds its account by (issuer,
-- subject), never by email address (internal/users/identities.go).
-- provider is the provider's configured name, for the security page;
-- email is the address the provider last gave, for people to read (it
-- decides nothing). Deleting an account deletes its identities. Issuers
-- and subjects are ASCII (OpenID Connect Core: a subject is at most 255
-- ASCII characters). Times are UTC.

-- +goose Up
CREATE TABLE user_identities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider VARCHAR(64) NOT NULL,
    issuer VARCHAR(500) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    email VARCHAR(254) NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at DATETIME NULL
);
CREATE UNIQUE INDEX user_identities_issuer_subject_key ON user_identities (issuer, subject);
CREATE INDEX user_identities_user_id_idx ON user_identities (user_id);

-- +goose Down
DROP TABLE user_identities;
