-- See the PostgreSQL migration of the same number: the edited copy a dead letter was replayed
-- as, and who edited it; the original message stays in `payload`.
ALTER TABLE dlq_events ADD COLUMN edited_payload TEXT CHECK (edited_payload IS NULL OR json_valid(edited_payload));
ALTER TABLE dlq_events ADD COLUMN edited_by TEXT;
