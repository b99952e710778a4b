-- +goose Up
-- A name searched with a birth date (FHIR `family=smith&birthdate=1980`,
-- the JSON API's name and birthDate) pairs two filters that each match
-- more records as the registry grows, about 25,000 Smiths and 11,000
-- people born in 1980 at a million, for a few hundred together.
-- name_prefixes now also holds, for each name word's and each folded key's
-- first three letters, an entry with the birth year ("y1980:smi",
-- patient.YearPrefixes), of which the GIN index finds the few records a
-- name start and a year hold together. The entries are computed here from
-- the prefixes the rows hold: the words' three-letter prefixes (no colon)
-- and the keys' ("n:", "f:", "g:" and three letters); rows still waiting
-- for their keys (name_prefixes NULL) get them from the service's backfill.
UPDATE patients SET name_prefixes = name_prefixes || ARRAY(
    SELECT DISTINCT 'y' || to_char(date_of_birth, 'YYYY') || ':' ||
           CASE WHEN p ~ '^[nfg]:' THEN substr(p, 3) ELSE p END
    FROM unnest(name_prefixes) p
    WHERE (strpos(p, ':') = 0 AND char_length(p) = 3) OR (p ~ '^[nfg]:' AND char_length(p) = 5))
WHERE name_prefixes IS NOT NULL;

-- +goose Down
UPDATE patients SET name_prefixes = ARRAY(SELECT p FROM unnest(name_prefixes) p WHERE p !~ '^y[0-9]+:')
WHERE name_prefixes IS NOT NULL;
