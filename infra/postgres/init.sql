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
-- The app role gets no CREATE on the schema: the server skips its migrator when nothing is
-- pending, and migrations run as the owner (`taylordash migrate`). As a second line of
-- defence, this event trigger refuses any schema change the app role attempts, with a message
-- that says what to do.
SELECT format('REVOKE CREATE ON SCHEMA public FROM %I', :'app_role') \gexec
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
