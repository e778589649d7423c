-- API keys: bearer credentials for /api/v1. Only the hex SHA-256 of a key
-- is stored; the raw key is shown to its owner once, at creation. prefix
-- holds the key's first characters, so a list can show which key is
-- which. A revoked key keeps its row (revoked_at set) for the record.
-- Times are UTC (the connection's time zone is +00:00).

-- +goose Up
CREATE TABLE api_keys (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(100) NOT NULL DEFAULT '',
    prefix VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    last_used_at DATETIME(6) NULL,
    revoked_at DATETIME(6) NULL,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    INDEX api_keys_user_id_idx (user_id),
    CONSTRAINT api_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE api_keys;
