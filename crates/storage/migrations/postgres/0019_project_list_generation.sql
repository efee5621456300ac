-- The projects table's generation: a number that moves in the same transaction as every change
-- to `projects`, whichever replica or client makes it. A replica that read a project list and
-- the generation in one statement (one snapshot) may answer that list again for as long as a
-- fresh read of the generation gives the same number: no change to `projects` has become
-- visible in between (storage `db_generation.rs`, api `projects::ListCache`).
--
-- The generation is the sum of 16 counters. A statement-level trigger bumps, after every
-- INSERT, UPDATE, DELETE (a restore's COPY included) and TRUNCATE of `projects`, the counter
-- of the writing connection (its backend pid modulo 16) and holds that row's lock until the
-- transaction ends: one counter would make every transaction writing projects wait for the
-- previous one's commit. Counters only grow and commit or roll back with the change they
-- announce, so two snapshots with the same sum saw the same projects. (A writer at REPEATABLE
-- READ would fail on a counter another transaction bumped meanwhile; TaylorDash writes at READ
-- COMMITTED.) The first counter starts at the clock in microseconds, so a table created anew
-- (a database dropped and migrated again under a running replica) does not repeat numbers.
CREATE TABLE project_list_generation (
    slot SMALLINT PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO project_list_generation (slot, n)
SELECT s, CASE WHEN s = 0
               THEN floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint
               ELSE 0 END
FROM generate_series(0, 15) AS s;

CREATE FUNCTION bump_project_list_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE project_list_generation SET n = n + 1 WHERE slot = pg_backend_pid() % 16;
    RETURN NULL;
END
$$;

CREATE TRIGGER projects_list_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON projects
    FOR EACH STATEMENT EXECUTE FUNCTION bump_project_list_generation();
