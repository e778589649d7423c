-- Single-use account tokens: password-reset and email-confirmation links.
-- Only the hex SHA-256 of a token is stored; the raw token is in the link
-- and nowhere else. Times are UTC (the connection's time zone is +00:00).

-- +goose Up
CREATE TABLE user_tokens (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    purpose VARCHAR(20) NOT NULL, -- 'reset-password' or 'confirm-email'
    token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at DATETIME(6) NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT user_tokens_token_hash_key UNIQUE (token_hash),
    INDEX user_tokens_user_id_purpose_idx (user_id, purpose),
    CONSTRAINT user_tokens_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE user_tokens;
