-- See the PostgreSQL migration of the same number: dead letters keep the message's idempotency
-- key, and an outbox row settled by a dead letter records which one.
ALTER TABLE dlq_events ADD COLUMN idempotency_key TEXT;
CREATE INDEX idx_dlq_events_idempotency_key ON dlq_events (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
ALTER TABLE event_outbox ADD COLUMN dead_letter_id INTEGER;
