-- Each check's runs of the last 24 hours, hour by hour, beside its state: `day_hour` is the
-- start of the newest hour held, `day_counts` 24 "good/all" pairs (up or degraded / all runs),
-- oldest first. Recording a result moves them, so a project's overview reads one row per check
-- instead of 24 hourly buckets. NULL: not filled yet (checks made before this migration); the
-- next result fills them from the hourly counts first.
ALTER TABLE check_status ADD COLUMN day_hour TIMESTAMPTZ;
ALTER TABLE check_status ADD COLUMN day_counts TEXT;
