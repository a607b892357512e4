"""The application's database role and owner mode: the running app holds only what it needs.

- The tables' owner is the role migrations run as (the login role of DATABASE_URL).
- The running application switches every connection to the restricted role
  (`DATABASES[...]["OPTIONS"]["assume_role"]`, default `auditdesk_app`; see
  auditlog/db/base.py): NOSUPERUSER, NOBYPASSRLS; SELECT and INSERT on the audit table,
  SELECT on seals and purge receipts, full DML on every other table, EXECUTE on
  `audit_purge`. So UPDATE, DELETE and TRUNCATE of audit rows are refused twice: by missing
  privileges and by the append-only triggers.
- Owner mode (`owner_mode()`, RESET ROLE) is for migrate, flush and platform jobs:
  sealing, partition maintenance, dropping expired partitions.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from psycopg import sql

# Tables the application may only read and append to, or only read.
APPEND_ONLY_TABLES = ("auditlog_auditevent",)
READ_ONLY_TABLES = (
    "auditlog_auditseal",
    "auditlog_auditpurge",
    "auditlog_auditretentiondefault",
    "auditlog_auditeventdaycount",
    "auditlog_auditeventdaymark",
)
# Functions the application may call (created by auditlog's migrations).
APP_FUNCTIONS = ("audit_purge(bigint, text, timestamp with time zone)",)


@contextmanager
def owner_mode(using: str = "default") -> Iterator[None]:
    """Run a block as the tables' owner (RESET ROLE), then return to the application role."""
    connection = connections[using]
    mode = getattr(connection, "owner_mode", None)
    if mode is None:  # another backend: no role switching to undo
        yield
        return
    with mode():
        yield


def app_role(connection: Any) -> str | None:
    return connection.settings_dict.get("OPTIONS", {}).get("assume_role") or None


_CREATE_ROLE = """
DO $do$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN
    CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
EXCEPTION
  WHEN duplicate_object THEN NULL;  -- another database's migration created it just now
  WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot create role %: create it yourself (see docs/scaling.md)', {name};
END
$do$;
"""
# A non-superuser owner may SET ROLE only to roles it is a member of.
_JOIN_ROLE = """
DO $do$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = {name})
     AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, {name}, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', {name}, current_user);
  END IF;
END
$do$;
"""

# Grants what is missing only, so running it after every migrate and flush stays cheap.
_GRANT = """
DO $do$
DECLARE
  app text := {name};
  t record;
  f text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = app) THEN
    RETURN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', app);
  FOR t IN
    SELECT c.oid, c.relname FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
  LOOP
    IF t.relname::text = ANY({append_only}::text[]) THEN
      IF NOT has_table_privilege(app, t.oid, 'SELECT, INSERT')
         OR has_table_privilege(app, t.oid, 'UPDATE, DELETE, TRUNCATE') THEN
        EXECUTE format('REVOKE ALL ON %I FROM %I', t.relname, app);
        EXECUTE format('GRANT SELECT, INSERT ON %I TO %I', t.relname, app);
      END IF;
    ELSIF t.relname::text = ANY({read_only}::text[]) THEN
      IF NOT has_table_privilege(app, t.oid, 'SELECT')
         OR has_table_privilege(app, t.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') THEN
        EXECUTE format('REVOKE ALL ON %I FROM %I', t.relname, app);
        EXECUTE format('GRANT SELECT ON %I TO %I', t.relname, app);
      END IF;
    ELSIF NOT has_table_privilege(app, t.oid, 'INSERT') THEN
      EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO %I', t.relname, app);
    END IF;
  END LOOP;
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', app);
  FOREACH f IN ARRAY {functions}::text[] LOOP
    IF to_regprocedure(f) IS NOT NULL THEN
      EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', to_regprocedure(f), app);
    END IF;
  END LOOP;
END
$do$;
"""


def _run(connection: Any, template: str, **values: Any) -> None:
    role = app_role(connection)
    if role is None:
        return
    statement = sql.SQL(template).format(
        name=sql.Literal(role), role=sql.Identifier(role), **values
    )
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(connection.connection))


def create_app_role(connection: Any) -> None:
    """Create the application role if missing (cluster-wide, so idempotent and race-safe)."""
    _run(connection, _CREATE_ROLE)
    _run(connection, _JOIN_ROLE)


def grant_app_role(connection: Any) -> None:
    """Give the application role exactly its privileges on every table of the schema."""
    _run(
        connection,
        _GRANT,
        append_only=sql.Literal(list(APPEND_ONLY_TABLES)),
        read_only=sql.Literal(list(READ_ONLY_TABLES)),
        functions=sql.Literal(list(APP_FUNCTIONS)),
    )


def grant_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: tables created by any app's migration get their grants at once."""
    connection = connections[using]
    with owner_mode(using):
        grant_app_role(connection)


def role_problems(connection: Any) -> list[str]:
    """What is wrong with the configured application role, for the system check."""
    role = app_role(connection)
    if role is None:
        return []
    with owner_mode(connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        found = cursor.fetchone()
    if found is None:
        return [
            f"the database role {role!r} does not exist, so the application runs as the "
            "tables' owner: run `manage.py migrate` (it creates the role)"
        ]
    if found[0] or found[1]:
        return [f"the database role {role!r} is a superuser or bypasses row-level security"]
    return []
