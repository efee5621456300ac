-- A dead letter replayed as an edited copy keeps its original message in `payload` and records
-- the copy that was replayed (the event it became is `replayed_event_id`) and who edited it.
ALTER TABLE dlq_events ADD COLUMN edited_payload JSONB;
ALTER TABLE dlq_events ADD COLUMN edited_by VARCHAR(255);
