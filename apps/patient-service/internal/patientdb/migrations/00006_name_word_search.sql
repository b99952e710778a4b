-- +goose Up
-- Search by any word of a name, as a front desk does (a surname alone,
-- "Hopper, Grace", a given name): name_prefixes holds every prefix of
-- every folded word of the name and its parts (patient.NamePrefixes), and
-- a GIN index answers "holds all of these words" (@>) in one look-up,
-- whatever the order of the words. Folding now also spells letters that
-- carry no accent mark (Ø → o, ß → ss), so every row's keys are computed
-- again: the service fills name_prefixes, and recomputes the other keys,
-- for each row where it is NULL at start (patientdb.Store.BackfillSearchKeys).
ALTER TABLE patients ADD COLUMN name_prefixes text[];
CREATE INDEX patients_name_prefixes_idx ON patients USING gin (name_prefixes) WHERE deleted_at IS NULL;
-- The JSON API's name search no longer compares the start of the whole
-- name; FHIR's uses name_key.
DROP INDEX patients_name_prefix_idx;

-- +goose Down
CREATE INDEX patients_name_prefix_idx ON patients (lower(name) text_pattern_ops);
DROP INDEX patients_name_prefixes_idx;
ALTER TABLE patients DROP COLUMN name_prefixes;
