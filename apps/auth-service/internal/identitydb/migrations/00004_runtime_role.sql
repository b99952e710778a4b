-- +goose Up
-- The service runs as a member of auth_runtime (created when the database
-- is provisioned, README "Least privilege in PostgreSQL") with only the DML
-- it needs: accounts and tokens are never deleted, only disabled or revoked.
GRANT SELECT, INSERT, UPDATE ON users TO auth_runtime;
GRANT SELECT, INSERT, UPDATE ON refresh_tokens TO auth_runtime;
GRANT SELECT, INSERT, DELETE ON login_failures TO auth_runtime;
-- The service checks at start that its schema is migrated.
GRANT SELECT ON goose_db_version TO auth_runtime;

-- +goose Down
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM auth_runtime;
