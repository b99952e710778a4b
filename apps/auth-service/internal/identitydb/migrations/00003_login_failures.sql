-- +goose Up
-- Failed logins per throttle key, shared by every auth-service replica.
-- Keys (an email, a client address) are stored only as SHA-256 hashes.
CREATE TABLE login_failures (
    key_hash bytea       NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX login_failures_key_at_idx ON login_failures (key_hash, at DESC);
-- Serves the removal of failures older than any window.
CREATE INDEX login_failures_at_idx ON login_failures (at);

-- +goose Down
DROP TABLE login_failures;
