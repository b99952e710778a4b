-- +goose Up
-- An event may carry its own CloudEvent type, when it is not the one the
-- service's relay publishes by default (a batch of patient events from a
-- bulk import: pms.patient.v1.PatientEventBatch). Empty: the default.
ALTER TABLE outbox ADD COLUMN event_type text;

-- +goose Down
ALTER TABLE outbox DROP COLUMN event_type;
