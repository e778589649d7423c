-- The security log: who signed in (or failed to) where, and every change
-- to an account's credentials, roles or sessions (internal/seclog).
-- user_id is the account the event is about (NULL when none is known,
-- e.g. a failed sign-in for an address no account has); actor_id is the
-- admin who did it when that is someone else. Deleting an account keeps
-- its events (user_id NULL) until they are purged: they are what an
-- incident review reads. address and user_agent are
-- the client's (after TRUSTED_PROXIES). detail is a short text, never a
-- password, token, key or secret. Rows older than SECURITY_LOG_RETENTION
-- are purged by a scheduled task. Times are UTC (the connection's time
-- zone is +00:00).

-- +goose Up
CREATE TABLE security_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT UNSIGNED NULL,
    actor_id BIGINT UNSIGNED NULL,
    kind VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    method VARCHAR(64) NOT NULL DEFAULT '',
    address VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    user_agent VARCHAR(255) NOT NULL DEFAULT '',
    detail VARCHAR(255) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    INDEX security_events_user_id_idx (user_id, created_at),
    INDEX security_events_created_at_idx (created_at),
    INDEX security_events_kind_idx (kind, created_at),
    CONSTRAINT security_events_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT security_events_actor_fk FOREIGN KEY (actor_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE security_events;
