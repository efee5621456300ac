-- See the PostgreSQL migration of the same number: the rows `confirm_outbox` can settle.
CREATE INDEX idx_event_outbox_in_flight ON event_outbox (id)
    WHERE sent_at IS NULL AND attempted_at IS NOT NULL;
