-- Background tasks written in the same transaction as the change they
-- belong to (a new account and its confirmation mail), so that neither
-- happens without the other. internal/outbox moves each row to the queue
-- once Redis takes it, under its task_id (asynq refuses a second task with
-- the same id, so a row sent twice runs once), then deletes the row.

-- +goose Up
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id VARCHAR(64) NOT NULL UNIQUE,
    task_type VARCHAR(100) NOT NULL,
    payload BLOB NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- +goose Down
DROP TABLE outbox;
