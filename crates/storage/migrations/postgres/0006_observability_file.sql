-- Nothing to do on PostgreSQL: on SQLite this version moves the observability tables to a
-- file of their own (see the SQLite migration of the same number). Kept so that both backends
-- share version numbers.
SELECT 1;
