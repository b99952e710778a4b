-- +goose Up
-- Accounts keep no contact details: copied at registration, they went
-- stale when the patient's changed (docs/billing.md, "What billing keeps").
ALTER TABLE billing_accounts DROP COLUMN name, DROP COLUMN email;
ALTER TABLE billing_accounts DROP CONSTRAINT billing_accounts_status_check;
ALTER TABLE billing_accounts ADD CONSTRAINT billing_accounts_status_check
    CHECK (status IN ('ACTIVE', 'ON_HOLD', 'CLOSED'));
-- Accounts opened before ledgers existed are in USD, the default of
-- BILLING_DEFAULT_CURRENCY; none has an entry yet.
ALTER TABLE billing_accounts
    ADD COLUMN currency      char(3)     NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN balance_minor bigint      NOT NULL DEFAULT 0,
    ADD COLUMN entry_count   bigint      NOT NULL DEFAULT 0 CHECK (entry_count >= 0),
    ADD COLUMN version       bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN updated_at    timestamptz;
UPDATE billing_accounts SET updated_at = created_at;
ALTER TABLE billing_accounts ALTER COLUMN updated_at SET NOT NULL, ALTER COLUMN currency DROP DEFAULT;
-- Serve the account list, newest first, all or by status.
CREATE INDEX billing_accounts_list_idx ON billing_accounts (created_at DESC, id DESC);
CREATE INDEX billing_accounts_status_idx ON billing_accounts (status, created_at DESC, id DESC);

-- The ledger: append-only. A mistake is corrected by a reversal that names
-- the entry it reverses (at most one per entry). Amounts are the entry's
-- effect on the balance in minor units; balance_after_minor is the running
-- balance, so a statement needs no floating point and no recomputation.
CREATE TABLE ledger_entries (
    id                  uuid PRIMARY KEY,
    account_id          uuid        NOT NULL REFERENCES billing_accounts (id),
    sequence            bigint      NOT NULL CHECK (sequence > 0),
    kind                text        NOT NULL CHECK (kind IN ('CHARGE', 'PAYMENT', 'ADJUSTMENT', 'REVERSAL')),
    amount_minor        bigint      NOT NULL CHECK (amount_minor <> 0),
    currency            char(3)     NOT NULL,
    balance_after_minor bigint      NOT NULL,
    posted_at           timestamptz NOT NULL,
    posted_by           text        NOT NULL,
    service_date        date,
    code                text,
    description         text,
    quantity            bigint,
    unit_price_minor    bigint,
    method              text CHECK (method IN ('CASH', 'CARD', 'CHECK', 'BANK_TRANSFER', 'INSURANCE')),
    reference           text,
    adjustment_type     text CHECK (adjustment_type IN ('WRITE_OFF', 'REFUND', 'CORRECTION')),
    reason              text,
    reverses            uuid REFERENCES ledger_entries (id),
    idempotency_key     text        NOT NULL,
    request_hash        bytea       NOT NULL,
    UNIQUE (account_id, sequence),
    UNIQUE (account_id, idempotency_key),
    CHECK (kind <> 'CHARGE' OR (service_date IS NOT NULL AND code IS NOT NULL AND quantity > 0
        AND unit_price_minor > 0 AND amount_minor = quantity * unit_price_minor)),
    CHECK (kind <> 'PAYMENT' OR (method IS NOT NULL AND amount_minor < 0)),
    CHECK (kind <> 'ADJUSTMENT' OR (adjustment_type IS NOT NULL AND reason IS NOT NULL)),
    CHECK ((kind = 'REVERSAL') = (reverses IS NOT NULL))
);
CREATE UNIQUE INDEX ledger_entries_reverses_key ON ledger_entries (reverses) WHERE reverses IS NOT NULL;
-- Serves statements (entries of a period, the sum before it).
CREATE INDEX ledger_entries_posted_idx ON ledger_entries (account_id, posted_at);

-- Every read and write of billing data, like patient-service's audit_log.
CREATE TABLE billing_audit (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL,
    user_id    text        NOT NULL,
    role       text        NOT NULL,
    action     text        NOT NULL,
    -- The accounts read or changed: one, or every account a list showed.
    account_ids uuid[]     NOT NULL,
    entry_id   uuid,
    request_id text        NOT NULL,
    outcome    text        NOT NULL
);
CREATE INDEX billing_audit_account_idx ON billing_audit USING gin (account_ids);

-- +goose StatementBegin
CREATE FUNCTION billing_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER ledger_entries_no_change BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();
CREATE TRIGGER billing_audit_no_change BEFORE UPDATE OR DELETE ON billing_audit
    FOR EACH ROW EXECUTE FUNCTION billing_append_only();
CREATE TRIGGER billing_audit_no_truncate BEFORE TRUNCATE ON billing_audit
    FOR EACH STATEMENT EXECUTE FUNCTION billing_append_only();

-- Patient events handled, so a redelivered one changes nothing.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Patients deleted before their account was opened (patient-service's
-- reconciler may still open it): such an account opens CLOSED.
CREATE TABLE deleted_patients (
    patient_id uuid PRIMARY KEY,
    event_id   uuid        NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox (platform/outbox): a change and its event commit
-- together; a committed insert wakes the relay.
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
CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The runtime role: accounts change (balance, status), everything else is
-- written once. It cannot change or delete a ledger entry or an audit
-- entry, and, not owning the tables, cannot drop their triggers.
GRANT UPDATE ON billing_accounts TO billing_runtime;
GRANT SELECT, INSERT ON ledger_entries, billing_audit, processed_events, deleted_patients TO billing_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO billing_runtime;
GRANT USAGE ON SEQUENCE billing_audit_id_seq, outbox_id_seq TO billing_runtime;

-- +goose Down
REVOKE ALL ON ledger_entries, billing_audit, processed_events, deleted_patients, outbox FROM billing_runtime;
REVOKE UPDATE ON billing_accounts FROM billing_runtime;
DROP TABLE outbox;
DROP FUNCTION outbox_notify();
DROP TABLE deleted_patients;
DROP TABLE processed_events;
DROP TABLE billing_audit;
DROP TABLE ledger_entries;
DROP FUNCTION billing_append_only();
DROP INDEX billing_accounts_status_idx;
DROP INDEX billing_accounts_list_idx;
ALTER TABLE billing_accounts DROP COLUMN currency, DROP COLUMN balance_minor, DROP COLUMN entry_count,
    DROP COLUMN version, DROP COLUMN updated_at;
ALTER TABLE billing_accounts DROP CONSTRAINT billing_accounts_status_check;
ALTER TABLE billing_accounts ADD CONSTRAINT billing_accounts_status_check CHECK (status IN ('ACTIVE', 'CLOSED'));
ALTER TABLE billing_accounts ADD COLUMN name text NOT NULL DEFAULT '', ADD COLUMN email text NOT NULL DEFAULT '';
