-- Single-use account tokens: password-reset and email-confirmation links.
-- Only the hex SHA-256 of a token is stored; the raw token is in the link
-- and nowhere else. Times are UTC.

-- +goose Up
CREATE TABLE user_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose VARCHAR(20) NOT NULL, -- 'reset-password' or 'confirm-email'
    token_hash CHAR(64) NOT NULL UNIQUE,
    expires_at DATETIME NOT NULL,
    used_at DATETIME NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX user_tokens_user_id_purpose_idx ON user_tokens (user_id, purpose);

-- +goose Down
DROP TABLE user_tokens;
