-- An outbox row whose event the bus dead-lettered is settled, not republished forever: dead
-- letters keep the idempotency key of the message when it had one, and the outbox row records
-- which dead letter settled it.
ALTER TABLE dlq_events ADD COLUMN idempotency_key VARCHAR(255);
CREATE INDEX idx_dlq_events_idempotency_key ON dlq_events (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE event_outbox ADD COLUMN dead_letter_id BIGINT;
