-- +goose Up
-- The service runs as a member of analytics_runtime (created when the
-- database is provisioned, README "Least privilege in PostgreSQL") with only
-- the DML it needs: events are recorded once and counted.
GRANT SELECT, INSERT ON patient_events TO analytics_runtime;
-- The service checks at start that its schema is migrated.
GRANT SELECT ON goose_db_version TO analytics_runtime;

-- +goose Down
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM analytics_runtime;
