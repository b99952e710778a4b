-- +goose Up
-- Every documented search answered from an index, whatever its
-- selectivity and whether PostgreSQL plans it for its values or once for
-- any (a generic plan, as for a statement pgx has prepared):
--
-- 1. FHIR's string searches compare the start of whole folded keys (the
--    name's text, the family name, each given name). name_prefixes, whose
--    GIN index already answers the JSON API's word search, now also holds
--    every prefix of each key, tagged with the key's kind ("n:" the name's
--    text, "f:" the family name, "g:" a given name; a word never holds a
--    colon), up to patient.MaxWordPrefix letters: `name=gr` is
--    name_prefixes && {n:gr, f:gr, g:gr}. The rows' new entries are
--    computed here from the keys they already hold; rows still waiting for
--    their keys (name_prefixes NULL) get them from the service's backfill.
--    The B-tree indexes on name_key and family_key served LIKE 'abc%' only
--    for a literal pattern, never for a parameter, and go.
-- 2. :contains compares a trigram index (pg_trgm) over the folded keys.
-- 3. phone and gender, compared by expression, get expression indexes
--    (gender's in list order).
-- 4. Soft-deleted records are listed newest first from an index of their
--    own, as live ones are.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DROP INDEX patients_name_key_idx;
DROP INDEX patients_family_key_idx;

UPDATE patients SET name_prefixes = name_prefixes || ARRAY(
    SELECT DISTINCT k.tag || left(k.key, n)
    FROM (SELECT 'n:' AS tag, name_key AS key
          UNION ALL SELECT 'f:', family_key
          UNION ALL SELECT 'g:', g FROM unnest(given_keys) g) k,
         generate_series(1, least(char_length(k.key), 24)) n
    WHERE k.key <> '')
WHERE name_prefixes IS NOT NULL;

-- The folded keys as one text, for the trigram index; a search rechecks
-- the field it names, so a match across two keys is not a match.
-- +goose StatementBegin
CREATE FUNCTION patient_name_text(name_key text, family_key text, given_keys text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(name_key, '') || ' ' || coalesce(family_key, '') || ' ' || array_to_string(given_keys, ' ')
$$;
-- +goose StatementEnd
CREATE INDEX patients_name_text_trgm_idx ON patients
    USING gin (patient_name_text(name_key, family_key, given_keys) gin_trgm_ops) WHERE deleted_at IS NULL;
CREATE INDEX patients_phone_idx ON patients (lower(phone)) WHERE deleted_at IS NULL;
-- A gender alone is listed in order from this index, whatever its share.
CREATE INDEX patients_gender_idx ON patients ((coalesce(gender, 'unknown')), created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX patients_deleted_order_idx ON patients (created_at DESC, id DESC) WHERE deleted_at IS NOT NULL;

-- +goose Down
DROP INDEX patients_deleted_order_idx;
DROP INDEX patients_gender_idx;
DROP INDEX patients_phone_idx;
DROP INDEX patients_name_text_trgm_idx;
DROP FUNCTION patient_name_text(text, text, text[]);
UPDATE patients SET name_prefixes = ARRAY(SELECT p FROM unnest(name_prefixes) p WHERE p NOT LIKE '%:%')
WHERE name_prefixes IS NOT NULL;
CREATE INDEX patients_name_key_idx ON patients (name_key text_pattern_ops) WHERE deleted_at IS NULL;
CREATE INDEX patients_family_key_idx ON patients (family_key text_pattern_ops) WHERE deleted_at IS NULL;
