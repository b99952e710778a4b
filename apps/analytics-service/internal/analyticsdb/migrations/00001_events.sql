-- +goose Up
CREATE TABLE patient_events (
    event_id    uuid PRIMARY KEY, -- makes recording idempotent on event id
    event_type  text        NOT NULL,
    patient_id  uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Serves the summary's per-day count of creations.
CREATE INDEX patient_events_type_time_idx ON patient_events (event_type, occurred_at);

-- +goose Down
DROP TABLE patient_events;
