-- TimescaleDB (profile `timescale`): the extension, and events_mirror as a hypertable.
--
-- Runs twice, as the superuser, and is safe to run any number of times:
--  1. at the first start of the timescale service (docker-entrypoint-initdb.d): creates the
--     extension. The table does not exist yet, so it only says so;
--  2. from the `timescale-init` one-shot, after `migrate` has succeeded: converts the table.
-- Caveat: it must run after the migrations that create events_mirror (the event bus's), and
-- TimescaleDB requires every unique index of a hypertable to include the time column
-- (received_at); the conversion fails, with TimescaleDB's message, if the table's primary key
-- does not. Existing rows are moved into chunks (migrate_data), which locks the table while it
-- runs: on a large table, convert during a maintenance window.

\set ON_ERROR_STOP on
CREATE EXTENSION IF NOT EXISTS timescaledb;

DO $$
BEGIN
  IF to_regclass('public.events_mirror') IS NULL THEN
    RAISE NOTICE 'events_mirror does not exist yet: run this file again after `taylordash migrate`';
  ELSIF EXISTS (SELECT FROM timescaledb_information.hypertables
                 WHERE hypertable_schema = 'public' AND hypertable_name = 'events_mirror') THEN
    RAISE NOTICE 'events_mirror is already a hypertable';
  ELSE
    PERFORM create_hypertable('public.events_mirror', by_range('received_at', INTERVAL '7 days'),
                              migrate_data => true);
    RAISE NOTICE 'events_mirror is now a hypertable partitioned by received_at (7-day chunks)';
  END IF;
END
$$;
