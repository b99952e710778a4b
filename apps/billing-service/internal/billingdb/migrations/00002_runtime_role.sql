-- +goose Up
-- The service runs as a member of billing_runtime (created when the
-- database is provisioned, README "Least privilege in PostgreSQL") with only
-- the DML it needs: accounts are opened and read.
GRANT SELECT, INSERT ON billing_accounts TO billing_runtime;
-- The service checks at start that its schema is migrated.
GRANT SELECT ON goose_db_version TO billing_runtime;

-- +goose Down
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM billing_runtime;
