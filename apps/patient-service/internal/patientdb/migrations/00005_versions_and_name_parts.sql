-- +goose Up
-- Name parts and search keys (the FHIR API). family_name and given_names
-- hold the parts a client sent, or those taken from the name for records
-- registered without them; the *_key columns hold the folded (lower case,
-- accents removed) forms string searches compare. Folding is done by the
-- service, which fills the keys of rows written before this migration at
-- start (patientdb.Store.BackfillSearchKeys); until then those rows are
-- found by the JSON API's name search, not by FHIR's.
ALTER TABLE patients
    ADD COLUMN family_name text,
    ADD COLUMN given_names text[] NOT NULL DEFAULT '{}',
    ADD COLUMN name_key    text,
    ADD COLUMN family_key  text,
    ADD COLUMN given_keys  text[] NOT NULL DEFAULT '{}';
-- Serve prefix searches on the folded name and family name (LIKE 'abc%').
CREATE INDEX patients_name_key_idx ON patients (name_key text_pattern_ops) WHERE deleted_at IS NULL;
CREATE INDEX patients_family_key_idx ON patients (family_key text_pattern_ops) WHERE deleted_at IS NULL;
-- Serves _lastUpdated.
CREATE INDEX patients_updated_idx ON patients (updated_at) WHERE deleted_at IS NULL;

-- Every version of every record, written in the transaction of the change
-- that made it (beside its audit entry): FHIR's vread and history. Like the
-- audit trail, rows are only ever inserted.
CREATE TABLE patient_versions (
    patient_id  uuid        NOT NULL REFERENCES patients (id),
    version     bigint      NOT NULL,
    action      text        NOT NULL CHECK (action IN ('create', 'update', 'patch', 'delete')),
    recorded_at timestamptz NOT NULL,
    record      jsonb       NOT NULL,
    PRIMARY KEY (patient_id, version)
);
-- +goose StatementBegin
CREATE FUNCTION patient_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'patient_versions is append-only';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER patient_versions_no_change BEFORE UPDATE OR DELETE ON patient_versions
    FOR EACH ROW EXECUTE FUNCTION patient_versions_append_only();
CREATE TRIGGER patient_versions_no_truncate BEFORE TRUNCATE ON patient_versions
    FOR EACH STATEMENT EXECUTE FUNCTION patient_versions_append_only();

-- Records from before this migration start their history at their current
-- version; earlier versions were not kept.
INSERT INTO patient_versions (patient_id, version, action, recorded_at, record)
SELECT id, version,
       CASE WHEN deleted_at IS NOT NULL THEN 'delete' WHEN version = 1 THEN 'create' ELSE 'update' END,
       updated_at,
       jsonb_strip_nulls(jsonb_build_object(
           'name', name, 'email', email, 'address', address, 'phone', phone, 'gender', gender, 'mrn', mrn,
           'dateOfBirth', to_char(date_of_birth, 'YYYY-MM-DD'), 'registeredDate', to_char(registered_date, 'YYYY-MM-DD'),
           'createdAt', created_at, 'updatedAt', updated_at, 'deletedAt', deleted_at))
FROM patients;

GRANT SELECT, INSERT ON patient_versions TO patient_runtime;

-- +goose Down
DROP TABLE patient_versions;
DROP FUNCTION patient_versions_append_only();
DROP INDEX patients_updated_idx;
DROP INDEX patients_family_key_idx;
DROP INDEX patients_name_key_idx;
ALTER TABLE patients DROP COLUMN given_keys, DROP COLUMN family_key, DROP COLUMN name_key,
    DROP COLUMN given_names, DROP COLUMN family_name;
