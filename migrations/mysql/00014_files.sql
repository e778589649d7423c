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
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    object_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY stored_files_object_key (object_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
ALTER TABLE users ADD COLUMN avatar_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL;
ALTER TABLE users ADD COLUMN avatar_variants BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE users DROP COLUMN avatar_variants;
ALTER TABLE users DROP COLUMN avatar_key;
DROP TABLE stored_files;
