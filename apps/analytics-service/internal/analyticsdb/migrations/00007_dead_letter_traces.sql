-- +goose Up
-- A dead letter keeps the W3C traceparent its event carried, so a redrive
-- publishes it in its original trace (and the redrive's own span links it).
ALTER TABLE dead_letters ADD COLUMN traceparent text;
GRANT UPDATE (traceparent) ON dead_letters TO analytics_runtime;

-- +goose Down
REVOKE UPDATE (traceparent) ON dead_letters FROM analytics_runtime;
ALTER TABLE dead_letters DROP COLUMN traceparent;
