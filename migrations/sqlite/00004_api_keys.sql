-- API keys: bearer credentials for /api/v1. Only the hex SHA-256 of a key
-- is stored; the raw key is shown to its owner once, at creation. prefix
-- holds the key's first characters, so a list can show which key is
-- which. A revoked key keeps its row (revoked_at set) for the record.
-- Times are UTC.

-- +goose Up
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL DEFAULT '',
    prefix VARCHAR(16) NOT NULL,
    key_hash CHAR(64) NOT NULL UNIQUE,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at DATETIME NULL,
    revoked_at DATETIME NULL
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

-- +goose Down
DROP TABLE api_keys;
