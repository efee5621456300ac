-- Nothing to do on PostgreSQL: its events list is planned with the filter's values, so the
-- trace, topic and time indexes of `events_mirror` serve those filters. On SQLite this version
-- drops them (see the SQLite migration of the same number). Kept so that both backends share
-- version numbers.
SELECT 1;
