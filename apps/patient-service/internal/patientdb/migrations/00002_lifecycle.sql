-- +goose Up
-- What a registration desk records besides the basics, soft deletion, and
-- the medical record number (MRN): existing rows get one derived from
-- their id.
ALTER TABLE patients
    ADD COLUMN phone      text,
    ADD COLUMN gender     text CHECK (gender IN ('male', 'female', 'other', 'unknown')),
    ADD COLUMN mrn        text,
    ADD COLUMN deleted_at timestamptz;
UPDATE patients SET mrn = 'MRN-' || upper(substr(replace(id::text, '-', ''), 1, 10)) WHERE mrn IS NULL;
ALTER TABLE patients ALTER COLUMN mrn SET NOT NULL;

-- One patient per MRN; also serves the exact MRN search.
CREATE UNIQUE INDEX patients_mrn_key ON patients (upper(mrn));
-- Serves case-insensitive prefix search on name (LIKE 'abc%'), and q.
CREATE INDEX patients_name_prefix_idx ON patients (lower(name) text_pattern_ops);
-- Serves the email part of q (prefix); exact email search uses patients_email_key.
CREATE INDEX patients_email_prefix_idx ON patients (lower(email) text_pattern_ops);
-- Serves the exact birthDate search.
CREATE INDEX patients_birth_date_idx ON patients (date_of_birth);
-- Serves the default list and keyset paging over live records (newest first).
CREATE INDEX patients_live_order_idx ON patients (created_at DESC, id DESC) WHERE deleted_at IS NULL;
DROP INDEX patients_created_idx;

-- A retried create with the same Idempotency-Key (per user) returns the
-- patient the first attempt made.
CREATE TABLE idempotency_keys (
    user_id      text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    -- Deferred: the key is claimed before the patient row exists.
    patient_id   uuid        NOT NULL REFERENCES patients (id) DEFERRABLE INITIALLY DEFERRED,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Who read or changed which patient record, when, and how it ended
-- (HIPAA 164.312(b)). Rows are only ever inserted: the trigger below
-- refuses updates and deletes, whatever the caller.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL,
    user_id     text        NOT NULL,
    role        text        NOT NULL,
    action      text        NOT NULL,
    patient_ids uuid[]      NOT NULL DEFAULT '{}',
    request_id  text        NOT NULL,
    outcome     text        NOT NULL,
    detail      text        NOT NULL DEFAULT ''
);
-- Serves GET /patients/{id}/audit.
CREATE INDEX audit_log_patient_idx ON audit_log USING gin (patient_ids);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_no_change ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
DROP TABLE idempotency_keys;
CREATE INDEX patients_created_idx ON patients (created_at DESC, id DESC);
DROP INDEX patients_live_order_idx;
DROP INDEX patients_birth_date_idx;
DROP INDEX patients_email_prefix_idx;
DROP INDEX patients_name_prefix_idx;
DROP INDEX patients_mrn_key;
ALTER TABLE patients DROP COLUMN deleted_at, DROP COLUMN mrn, DROP COLUMN gender, DROP COLUMN phone;
