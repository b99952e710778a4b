-- +goose Up
-- An event keeps the W3C traceparent of the change that wrote it, so its
-- consumers' spans join that change's trace (platform/outbox). Empty when
-- the change was not traced.
ALTER TABLE outbox ADD COLUMN traceparent text;

-- +goose Down
ALTER TABLE outbox DROP COLUMN traceparent;
