#!/bin/sh
# The database logins of docs/trust.md, for docker-compose.yml. The postgres image runs this
# once, when it initialises a new data volume (/docker-entrypoint-initdb.d). It is idempotent:
# for a volume made by an older release (tables owned by postgres), run it once by hand:
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-auditdesk-roles.sh
# auditdesk_owner (DATABASE_OWNER_URL) owns the database and runs migrations and platform jobs;
# auditdesk_web (DATABASE_URL) is a member of the group role auditdesk_app and of nothing else.
set -eu
: "${AUDITDESK_OWNER_PASSWORD:?set AUDITDESK_OWNER_PASSWORD}"
: "${AUDITDESK_WEB_PASSWORD:?set AUDITDESK_WEB_PASSWORD}"
AUDITDESK_DB="${POSTGRES_DB:-auditdesk}"
export AUDITDESK_DB

# Passwords come from the environment (\getenv), so they never appear on a command line.
psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname postgres <<'SQL'
\getenv owner_password AUDITDESK_OWNER_PASSWORD
\getenv web_password AUDITDESK_WEB_PASSWORD
\getenv db AUDITDESK_DB
SET client_min_messages = warning;

SELECT 'CREATE ROLE auditdesk_owner'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditdesk_owner') \gexec
ALTER ROLE auditdesk_owner LOGIN NOSUPERUSER NOBYPASSRLS CREATEDB CREATEROLE INHERIT
  PASSWORD :'owner_password';
GRANT pg_read_all_stats TO auditdesk_owner;

-- The migrations create the group role too; NOINHERIT as they do.
SELECT 'CREATE ROLE auditdesk_app NOINHERIT'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditdesk_app') \gexec
ALTER ROLE auditdesk_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;

SELECT 'CREATE ROLE auditdesk_web'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'auditdesk_web') \gexec
ALTER ROLE auditdesk_web LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT
  PASSWORD :'web_password';
-- Member of auditdesk_app and of nothing else.
SELECT format('REVOKE %s FROM auditdesk_web GRANTED BY %s', roleid::regrole, grantor::regrole)
  FROM pg_auth_members
 WHERE member = 'auditdesk_web'::regrole AND roleid <> 'auditdesk_app'::regrole \gexec
SELECT 'REVOKE auditdesk_app FROM auditdesk_web'
 WHERE EXISTS (SELECT FROM pg_auth_members WHERE member = 'auditdesk_web'::regrole
                  AND roleid = 'auditdesk_app'::regrole AND admin_option) \gexec
GRANT auditdesk_app TO auditdesk_web;

SELECT format('ALTER DATABASE %I OWNER TO auditdesk_owner', datname)
  FROM pg_database
 WHERE (datname = :'db' OR starts_with(datname, 'test_auditdesk'))
   AND datdba <> 'auditdesk_owner'::regrole \gexec

-- What an older release created as postgres becomes the owner's (not extensions' objects;
-- sequences of serial and identity columns follow their table).
\connect :"db"
DO $do$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT format('ALTER %s %I.%I OWNER TO auditdesk_owner',
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                                 WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
                  n.nspname, c.relname) AS statement
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relowner <> 'auditdesk_owner'::regrole
       AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT EXISTS (
             SELECT FROM pg_depend d
              WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND (d.deptype = 'e'
                     OR (c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass
                         AND d.deptype IN ('a', 'i'))))
     ORDER BY c.relispartition, c.oid
  LOOP
    EXECUTE obj.statement;
  END LOOP;
  FOR obj IN
    SELECT format('ALTER ROUTINE %s OWNER TO auditdesk_owner', p.oid::regprocedure) AS statement
      FROM pg_proc p
     WHERE p.pronamespace = 'public'::regnamespace
       AND p.proowner <> 'auditdesk_owner'::regrole
       AND NOT EXISTS (SELECT FROM pg_depend d
                        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                          AND d.deptype = 'e')
  LOOP
    EXECUTE obj.statement;
  END LOOP;
END
$do$;
SQL
