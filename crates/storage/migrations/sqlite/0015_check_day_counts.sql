-- See the PostgreSQL migration of the same number: each check's runs of the last 24 hours,
-- hour by hour, beside its state.
ALTER TABLE check_status ADD COLUMN day_hour TEXT;
ALTER TABLE check_status ADD COLUMN day_counts TEXT;
