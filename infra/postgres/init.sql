-- TaylorDash database roles: run once by the superuser on a fresh cluster (the postgres
-- container runs it through init.sh on first start) and safe to run again (it then only resets
-- passwords and privileges).
--
-- psql variables (all required):
--   db_name         database the application uses (created by the container: POSTGRES_DB)
--   owner_role      owns the database, its schema and every table; `taylordash migrate` runs as it
--   owner_password
--   app_role        what the server connects as: reads and writes rows, never changes the schema
--   app_password
--
--   psql -v ON_ERROR_STOP=1 -v db_name=taylordash -v owner_role=taylordash \
--        -v owner_password=... -v app_role=taylordash_app -v app_password=... -f init.sql

\set ON_ERROR_STOP on
\connect :"db_name"
SET client_min_messages = warning;

-- Roles: log in, nothing else. NOINHERIT so granting one to the other later changes nothing
-- by accident.
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION',
              :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION',
              :'app_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'owner_role', :'owner_password') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'app_role', :'app_password') \gexec

-- The database belongs to the owner; nobody else may connect or create temporary tables.
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db_name', :'owner_role') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db_name') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db_name', :'app_role') \gexec

-- The schema belongs to the owner (migrations create tables there).
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner_role') \gexec
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app_role') \gexec

-- Row access only: on the tables that exist now and on every table or sequence the owner
-- creates later (the next migrations).
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I',
              :'app_role') \gexec
SELECT format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', :'app_role') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I',
              :'owner_role', :'app_role') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT USAGE, SELECT ON SEQUENCES TO %I', :'owner_role', :'app_role') \gexec

-- Schema guard.
--
-- The server runs its migrator at every start. When every migration is already applied that
-- is read-only, except for one statement: `CREATE TABLE IF NOT EXISTS _sqlx_migrations`, which
-- PostgreSQL checks against the CREATE privilege on the schema even when the table exists. So
-- the app role holds CREATE on the schema, and this event trigger refuses every schema change
-- the app role attempts, except that no-op. Net effect: the app role can read and write rows
-- and cannot create, alter or drop anything; a server started before `taylordash migrate` fails
-- with a message saying so. (When the server skips its migrator if nothing is pending, the
-- GRANT CREATE below can go; the guard stays as a second line of defence.)
SELECT format('GRANT CREATE ON SCHEMA public TO %I', :'app_role') \gexec
SELECT set_config('taylordash.app_role', :'app_role', false) AS guard_role \gset
DO $do$
BEGIN
  EXECUTE format($fn$
    CREATE OR REPLACE FUNCTION public.taylordash_app_ddl_guard() RETURNS event_trigger
    LANGUAGE plpgsql AS $body$
    BEGIN
      IF current_user <> %L THEN
        RETURN;
      END IF;
      IF tg_tag = 'CREATE TABLE'
         AND current_query() ~* '^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+"?_sqlx_migrations"?\s*\('
         AND to_regclass('public._sqlx_migrations') IS NOT NULL THEN
        RETURN;  -- the migrator's no-op check
      END IF;
      RAISE EXCEPTION 'role %% may not change the database schema (%%): apply migrations with '
                      '`taylordash migrate` as the owner role first', current_user, tg_tag
        USING ERRCODE = 'insufficient_privilege';
    END
    $body$ $fn$, current_setting('taylordash.app_role'));
END
$do$;
REVOKE ALL ON FUNCTION public.taylordash_app_ddl_guard() FROM PUBLIC;
DROP EVENT TRIGGER IF EXISTS taylordash_app_ddl_guard;
CREATE EVENT TRIGGER taylordash_app_ddl_guard ON ddl_command_start
  EXECUTE FUNCTION public.taylordash_app_ddl_guard();
