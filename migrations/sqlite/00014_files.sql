-- Uploaded files (internal/storage). stored_files lists every object in
-- the file store that a record owns, by its key: a row is written in the
-- transaction that gives the file to its record, and deleted in the one
-- that takes it away, which queues the deletion of the object itself
-- (the storage:delete task, retried until it is done). The daily
-- storage:sweep task deletes objects older than a day that no row names:
-- uploads whose record was never committed. users.avatar_key is the key
-- of the user's profile picture (re-encoded); avatar_variants is set once
-- the storage:avatar task has stored its resized copies beside it.
-- Times are UTC.

-- +goose Up
CREATE TABLE stored_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    object_key TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL
);
ALTER TABLE users ADD COLUMN avatar_key TEXT NULL;
ALTER TABLE users ADD COLUMN avatar_variants BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN avatar_variants;
ALTER TABLE users DROP COLUMN avatar_key;
DROP TABLE stored_files;
