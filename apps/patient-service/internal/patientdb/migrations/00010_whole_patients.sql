-- +goose Up
-- Whole FHIR Patients: what a FHIR client sends beyond the registry's own
-- fields (identifiers of other systems, other names, contacts, extensions
-- and the rest) is kept as sent (json, not jsonb: its bytes are what a
-- second import compares), with the search keys of its identifiers
-- (GIN: identifier=system|value on any system) and its other names' parts
-- (kind-tagged, "f:Smith", "g:Mary", "n:Mary Smith"), whose words join
-- name_prefixes.
ALTER TABLE patients
    ADD COLUMN more_resource   json,
    ADD COLUMN identifier_keys text[] NOT NULL DEFAULT '{}',
    ADD COLUMN other_names     text[] NOT NULL DEFAULT '{}';
CREATE INDEX patients_identifier_keys_idx ON patients USING gin (identifier_keys);

-- +goose Down
DROP INDEX patients_identifier_keys_idx;
ALTER TABLE patients DROP COLUMN other_names, DROP COLUMN identifier_keys, DROP COLUMN more_resource;
