-- The sessions a user is signed in with, one row each, so that the
-- account's security page can list them and end any one (internal/session
-- registry.go). The session store itself keeps no index by user; this
-- table is that index, for the stores that hold sessions under a token
-- (database, redis, memory). sid is a random ID the session carries too,
-- so the row and the session find each other. token is the session's
-- store token, encrypted (AES-GCM, a key derived from SECRET_KEY): a
-- reader of this database cannot take over sessions held in Redis.
-- session_key is the user's session key when the session started: a row
-- whose key is no longer the user's belongs to an ended session (a
-- password change, "sign out everywhere"), is never listed, and is
-- purged. last_seen_at is updated at most every few minutes. Expired and
-- ended rows are purged by the hourly sessions:purge task.
-- Times are UTC (the connection's time zone is +00:00).

-- +goose Up
CREATE TABLE user_sessions (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    sid VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    session_key VARCHAR(64) NOT NULL,
    token VARBINARY(255) NOT NULL,
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    address VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    CONSTRAINT user_sessions_sid_key UNIQUE (sid),
    INDEX user_sessions_user_id_idx (user_id, last_seen_at),
    INDEX user_sessions_expires_at_idx (expires_at),
    CONSTRAINT user_sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE user_sessions;
