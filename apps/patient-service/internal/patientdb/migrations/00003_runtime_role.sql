-- +goose Up
-- The service runs as a member of patient_runtime (created when the
-- database is provisioned, README "Least privilege in PostgreSQL") with only
-- the DML it needs. The audit trail is INSERT and SELECT only: the runtime
-- role cannot change, delete or truncate it, and, not owning the table,
-- cannot drop its triggers either.
GRANT SELECT, INSERT, UPDATE ON patients TO patient_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO patient_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO patient_runtime;
GRANT SELECT, INSERT ON audit_log TO patient_runtime;
GRANT USAGE ON SEQUENCE outbox_id_seq, audit_log_id_seq TO patient_runtime;
-- The service checks at start that its schema is migrated.
GRANT SELECT ON goose_db_version TO patient_runtime;
-- The row trigger does not fire for TRUNCATE; this one does, so not even
-- the owner empties the audit trail by accident.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TRIGGER audit_log_no_truncate ON audit_log;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM patient_runtime;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM patient_runtime;
