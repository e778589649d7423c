-- The security log: who signed in (or failed to) where, and every change
-- to an account's credentials, roles or sessions (internal/seclog).
-- user_id is the account the event is about (NULL when none is known,
-- e.g. a failed sign-in for an address no account has); actor_id is the
-- admin who did it when that is someone else. Deleting an account keeps
-- its events (user_id NULL) until they are purged: they are what an
-- incident review reads. address and user_agent are
-- the client's (after TRUSTED_PROXIES). detail is a short text, never a
-- password, token, key or secret. Rows older than SECURITY_LOG_RETENTION
-- are purged by a scheduled task. Times are UTC.

-- +goose Up
CREATE TABLE security_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    actor_id INTEGER NULL REFERENCES users (id) ON DELETE SET NULL,
    kind VARCHAR(40) NOT NULL,
    method VARCHAR(64) NOT NULL DEFAULT '',
    address VARCHAR(64) NOT NULL DEFAULT '',
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    detail VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX security_events_user_id_idx ON security_events (user_id, created_at);
CREATE INDEX security_events_created_at_idx ON security_events (created_at);
CREATE INDEX security_events_kind_idx ON security_events (kind, created_at);

-- +goose Down
DROP TABLE security_events;
