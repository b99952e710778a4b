-- +goose Up
-- Billing events (topic "billing"), once each: what a posting was and the
-- balance it left, never a code, description or reference.
CREATE TABLE billing_events (
    event_id        uuid PRIMARY KEY,
    event_type      text        NOT NULL,
    account_id      uuid        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    account_version bigint      NOT NULL,
    kind            text        NOT NULL DEFAULT '',
    amount_minor    bigint      NOT NULL DEFAULT 0,
    currency        char(3)     NOT NULL,
    balance_minor   bigint      NOT NULL
);
-- The latest balance of each account (the outstanding total).
CREATE INDEX billing_events_account_idx ON billing_events (account_id, account_version DESC);
GRANT SELECT, INSERT ON billing_events TO analytics_runtime;

-- +goose Down
DROP TABLE billing_events;
