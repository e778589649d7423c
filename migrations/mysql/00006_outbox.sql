-- Background tasks written in the same transaction as the change they
-- belong to (a new account and its confirmation mail), so that neither
-- happens without the other. internal/outbox moves each row to the queue
-- once Redis takes it, under its task_id (asynq refuses a second task with
-- the same id, so a row sent twice runs once), then deletes the row.

-- +goose Up
CREATE TABLE outbox (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    task_id VARCHAR(64) NOT NULL,
    task_type VARCHAR(100) NOT NULL,
    payload BLOB NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT outbox_task_id_key UNIQUE (task_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE outbox;
