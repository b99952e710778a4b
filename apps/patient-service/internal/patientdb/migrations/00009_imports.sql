-- +goose Up
-- Bulk import (FHIR $import): a received file is stored whole as a job and
-- its lines, then imported a batch at a time; each batch deletes its lines
-- and adds to its job's counts in the transaction that writes its
-- patients, so an import resumes exactly where it stopped. The refused
-- lines stay, with why, for the job's error file.
CREATE TABLE import_jobs (
    id           uuid        PRIMARY KEY,
    user_id      text        NOT NULL,
    role         text        NOT NULL,
    request_id   text        NOT NULL,
    submitted_at timestamptz NOT NULL,
    lines        integer     NOT NULL,
    pending      integer     NOT NULL,
    imported     integer     NOT NULL DEFAULT 0,
    updated      integer     NOT NULL DEFAULT 0,
    unchanged    integer     NOT NULL DEFAULT 0,
    rejected     integer     NOT NULL DEFAULT 0,
    finished_at  timestamptz,
    CHECK (pending BETWEEN 0 AND lines)
);
-- The worker's look for the oldest job with lines pending.
CREATE INDEX import_jobs_pending_idx ON import_jobs (submitted_at) WHERE finished_at IS NULL;

-- A line as received (the bytes of one FHIR Patient), until imported.
CREATE TABLE import_lines (
    job_id  uuid    NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line_no integer NOT NULL,
    body    bytea   NOT NULL,
    PRIMARY KEY (job_id, line_no)
);

-- A refused line: its number and the issues (expression, message) of its
-- OperationOutcome.
CREATE TABLE import_errors (
    job_id  uuid    NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
    line_no integer NOT NULL,
    issues  jsonb   NOT NULL,
    PRIMARY KEY (job_id, line_no)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON import_jobs, import_lines, import_errors TO patient_runtime;

-- +goose Down
DROP TABLE import_errors;
DROP TABLE import_lines;
DROP TABLE import_jobs;
