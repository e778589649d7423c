-- The trace of the change that wrote an outbox row (W3C traceparent and
-- tracestate, as JSON; '' when tracing is off), so that the task the
-- relay queues later, from any process, continues that request's trace
-- (internal/telemetry).

-- +goose Up
ALTER TABLE outbox ADD COLUMN trace_headers VARCHAR(1024) NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE outbox DROP COLUMN trace_headers;
