-- +goose Up
-- The de-identified attributes events carry (version 2 of the contract);
-- events recorded before them count as "not given".
ALTER TABLE patient_events
    ADD COLUMN age_band text NOT NULL DEFAULT '',
    ADD COLUMN gender   text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE patient_events DROP COLUMN age_band, DROP COLUMN gender;
