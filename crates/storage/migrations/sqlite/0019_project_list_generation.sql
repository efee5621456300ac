-- Nothing to do on SQLite: one server owns the file and sees every write to `projects` itself
-- (`generation.rs`); on PostgreSQL this version adds the generation other replicas' writes move
-- (see the PostgreSQL migration of the same number). Kept so that both backends share version
-- numbers.
SELECT 1;
