-- +goose Up
-- An operator may discard a dead letter that must never be redriven (a
-- malformed or test event), with a reason; it leaves the pending list and
-- stays in the table, and the audit trail names who discarded it. If the
-- same event is dead-lettered again, it is pending anew.
ALTER TABLE dead_letters
    ADD COLUMN discarded_at   timestamptz,
    ADD COLUMN discard_reason text;
DROP INDEX dead_letters_pending_idx;
CREATE INDEX dead_letters_pending_idx ON dead_letters (dead_lettered_at) WHERE redriven_at IS NULL AND discarded_at IS NULL;
GRANT UPDATE (discarded_at, discard_reason) ON dead_letters TO analytics_runtime;

-- +goose Down
REVOKE UPDATE (discarded_at, discard_reason) ON dead_letters FROM analytics_runtime;
DROP INDEX dead_letters_pending_idx;
CREATE INDEX dead_letters_pending_idx ON dead_letters (dead_lettered_at) WHERE redriven_at IS NULL;
ALTER TABLE dead_letters DROP COLUMN discard_reason, DROP COLUMN discarded_at;
