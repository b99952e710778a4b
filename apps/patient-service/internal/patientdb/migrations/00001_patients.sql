-- +goose Up
CREATE TABLE patients (
    id                 uuid PRIMARY KEY,
    name               text        NOT NULL,
    email              text        NOT NULL,
    address            text        NOT NULL,
    date_of_birth      date        NOT NULL,
    registered_date    date        NOT NULL,
    billing_account_id text,
    version            bigint      NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

-- One patient per email address, compared case-insensitively.
CREATE UNIQUE INDEX patients_email_key ON patients (lower(email));
-- Serves the list endpoint's order (newest first, id breaks ties).
CREATE INDEX patients_created_idx ON patients (created_at DESC, id DESC);
-- Serves the billing reconciler's scan for patients still without an account.
CREATE INDEX patients_missing_billing_idx ON patients (created_at) WHERE billing_account_id IS NULL;

-- Transactional outbox: a change and its event commit together; the relay
-- publishes unsent rows in id order and stamps sent_at.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    topic         text        NOT NULL,
    partition_key text        NOT NULL,
    payload       text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text
);

-- Serves the relay's scan for unsent events.
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE patients;
