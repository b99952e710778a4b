-- +goose Up
-- Why analytics gave up on an event (before its sidecar dead-letters it).
CREATE TABLE drop_reasons (
    topic         text        NOT NULL,
    cloudevent_id text        NOT NULL,
    reason        text        NOT NULL,
    dropped_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, cloudevent_id)
);
-- Dead-lettered events, parked once each until an operator redrives them.
-- data is the event as published (identifiers and attributes, no PHI: the
-- event contracts carry none); listings never show it.
CREATE TABLE dead_letters (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    topic            text        NOT NULL,
    cloudevent_id    text        NOT NULL,
    event_id         text        NOT NULL DEFAULT '',
    event_type       text        NOT NULL DEFAULT '',
    occurred_at      timestamptz,
    partition_key    text        NOT NULL DEFAULT '',
    reason           text        NOT NULL,
    data             bytea       NOT NULL,
    dead_lettered_at timestamptz NOT NULL DEFAULT now(),
    redriven_at      timestamptz,
    UNIQUE (topic, cloudevent_id)
);
CREATE INDEX dead_letters_pending_idx ON dead_letters (dead_lettered_at) WHERE redriven_at IS NULL;
-- Who listed or redrove which dead letters; append-only.
CREATE TABLE dead_letter_audit (
    id              bigserial   PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text        NOT NULL,
    action          text        NOT NULL,
    topic           text        NOT NULL DEFAULT '',
    dead_letter_ids uuid[]      NOT NULL
);
-- +goose StatementBegin
CREATE FUNCTION dead_letter_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dead_letter_audit is append-only';
END $$;
-- +goose StatementEnd
CREATE TRIGGER dead_letter_audit_no_change BEFORE UPDATE OR DELETE ON dead_letter_audit
    FOR EACH ROW EXECUTE FUNCTION dead_letter_audit_append_only();
CREATE TRIGGER dead_letter_audit_no_truncate BEFORE TRUNCATE ON dead_letter_audit
    FOR EACH STATEMENT EXECUTE FUNCTION dead_letter_audit_append_only();
GRANT SELECT, INSERT, UPDATE ON drop_reasons TO analytics_runtime;
GRANT SELECT, INSERT ON dead_letters TO analytics_runtime;
GRANT UPDATE (redriven_at, reason, dead_lettered_at) ON dead_letters TO analytics_runtime;
GRANT SELECT, INSERT ON dead_letter_audit TO analytics_runtime;
GRANT USAGE ON SEQUENCE dead_letter_audit_id_seq TO analytics_runtime;

-- +goose Down
DROP TABLE dead_letter_audit;
DROP FUNCTION dead_letter_audit_append_only();
DROP TABLE dead_letters;
DROP TABLE drop_reasons;
