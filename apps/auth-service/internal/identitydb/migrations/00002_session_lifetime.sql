-- +goose Up
-- The absolute end of a login session: every token a refresh rotates in
-- keeps its family's, so refreshing never extends a session. Tokens issued
-- before end with their own expiry.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz;
UPDATE refresh_tokens SET family_expires_at = expires_at;
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN family_expires_at;
