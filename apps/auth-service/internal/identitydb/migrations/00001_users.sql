-- +goose Up
CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text        NOT NULL,
    password_hash text        NOT NULL, -- argon2id PHC string
    role          text        NOT NULL CHECK (role IN ('admin', 'clinician', 'billing')),
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

-- Login looks users up by email, compared case-insensitively.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    family_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id),
    token_hash bytea       NOT NULL, -- SHA-256 of the token; the token itself is never stored
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL
);

-- Refresh and logout look tokens up by hash.
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
-- Reuse detection revokes a whole family.
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE users;
