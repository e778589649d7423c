-- A user's session version: every session remembers the version it was
-- signed in at, and one that no longer matches is over. Changing or
-- resetting the password, deactivation and "sign out everywhere" raise it,
-- ending every session of the user on every store at once.

-- +goose Up
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN session_version;
