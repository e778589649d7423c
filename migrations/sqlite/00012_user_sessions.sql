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
-- Times are UTC.

-- +goose Up
CREATE TABLE user_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sid VARCHAR(64) NOT NULL UNIQUE,
    session_key VARCHAR(64) NOT NULL,
    token BLOB NOT NULL,
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    address VARCHAR(64) NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    last_seen_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id, last_seen_at);
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- +goose Down
DROP TABLE user_sessions;
