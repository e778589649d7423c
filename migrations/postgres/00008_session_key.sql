-- A user's session key, in place of the session version: a random secret
-- that every session of the user carries, and one whose key no longer
-- matches is over. Changing or resetting the password, deactivation and
-- "sign out everywhere" replace it, ending every session of the user on
-- every store at once. Being random, and kept only in this database and
-- in the sessions, it also makes a session unforgeable elsewhere: another
-- deployment that shares SECRET_KEY cannot make a cookie session for a
-- user of this one. Existing accounts get a key at their next sign-in;
-- sessions from before this migration are over.

-- +goose Up
ALTER TABLE users ADD COLUMN session_key VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE users DROP COLUMN session_version;

-- +goose Down
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users DROP COLUMN session_key;
