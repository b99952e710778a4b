-- +goose Up
CREATE TABLE billing_accounts (
    id         uuid PRIMARY KEY,
    patient_id uuid        NOT NULL,
    name       text        NOT NULL,
    email      text        NOT NULL,
    status     text        NOT NULL CHECK (status IN ('ACTIVE', 'CLOSED')),
    created_at timestamptz NOT NULL
);

-- One account per patient; makes CreateBillingAccount idempotent and serves
-- GetBillingAccount's lookup by patient.
CREATE UNIQUE INDEX billing_accounts_patient_key ON billing_accounts (patient_id);

-- +goose Down
DROP TABLE billing_accounts;
