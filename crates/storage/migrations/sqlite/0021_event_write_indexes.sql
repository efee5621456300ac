-- Indexes of `events_mirror` no SQLite query uses, dropped: every ingest batch paid for them.
-- The events list filters with `(? IS NULL OR column = ?)` terms and reads newest first, which
-- SQLite plans as a walk of the table by id whatever the filter; topics are matched with LIKE,
-- which does not use an index of a case-sensitive column; pruning walks by id too. The trace
-- index was the costly one: trace ids are random, so each batch of 500 events changed about as
-- many pages of it as there were, and wrote them all to the WAL (docs/benchmarks.md, "Ingest
-- commits"). The kind index stays (the backup alerts look up the latest backup event by kind).
DROP INDEX IF EXISTS idx_events_mirror_trace_id;
DROP INDEX IF EXISTS idx_events_mirror_topic;
DROP INDEX IF EXISTS idx_events_mirror_received_at;
