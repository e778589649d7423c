-- Identities at OpenID Connect providers (OIDC_PROVIDERS) linked to an
-- account: a sign-in through a provider finds its account by (issuer,
-- subject), never by email address (internal/users/identities.go).
-- provider is the provider's configured name, for the security page;
-- email is the address the provider last gave, for people to read (it
-- decides nothing). Deleting an account deletes its identities. Issuers
-- and subjects are ASCII (OpenID Connect Core: a subject is at most 255
-- ASCII characters) and compare byte for byte (ascii_bin): the unique
-- key on both is 755 bytes, within InnoDB's limit even in its oldest
-- row formats (767). Times are UTC (the connection's time zone is
-- +00:00).

-- +goose Up
CREATE TABLE user_identities (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    provider VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    issuer VARCHAR(500) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_used_at DATETIME(6) NULL,
    CONSTRAINT user_identities_issuer_subject_key UNIQUE (issuer, subject),
    INDEX user_identities_user_id_idx (user_id),
    CONSTRAINT user_identities_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE user_identities;
