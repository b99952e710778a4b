-- +goose Up
-- A committed insert into the outbox wakes the relay at once (NOTIFY is
-- delivered at commit, once per transaction), instead of the relay polling.
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

-- +goose Down
DROP TRIGGER outbox_wake ON outbox;
DROP FUNCTION outbox_notify();
