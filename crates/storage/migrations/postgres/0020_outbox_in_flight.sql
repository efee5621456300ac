-- The outbox rows the relay has published and not yet seen settled: the only ones
-- `confirm_outbox` can settle (a row is marked attempted before its event is published). Under
-- a burst of writes the unpublished backlog is long, and settling by the unsent index walked
-- all of it several times a second.
CREATE INDEX idx_event_outbox_in_flight ON event_outbox (id)
    WHERE sent_at IS NULL AND attempted_at IS NOT NULL;
