"""The application's database role, the owner's connection, and owner mode.

Two logins (docs/trust.md): `DATABASES["default"]` is the application's restricted login,
a member of the NOLOGIN group role `auditdesk_app` (created here by the migrations) and of
nothing else; `DATABASES["owner"]` is the schema's owner, for migrations and the platform
jobs (sealing, verification checkpoints, retention purge, day counts, partitions).

The group role holds SELECT and INSERT on audit rows, SELECT only on seals, digests, purge
receipts, chain status and retention defaults, full DML on the product's own tables, and
no EXECUTE on the purge. UPDATE, DELETE and TRUNCATE of audit rows are refused twice: by
missing privileges and by the append-only triggers.

Owner mode (`owner_mode()`) routes the ORM's queries to the owner's alias for a block; code
that takes a connection itself asks `owner_db()` for the alias.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connections
from psycopg import sql

APP_ROLE = "auditdesk_app"
OWNER_ALIAS = "owner"

# Tables the application may only read and append to, or only read.
APPEND_ONLY_TABLES = ("auditlog_auditevent",)
READ_ONLY_TABLES = (
    "auditlog_auditseal",
    "auditlog_auditpurge",
    "auditlog_auditdigest",
    "auditlog_auditchainstatus",
    "auditlog_auditsealrun",
    "auditlog_auditretentiondefault",
    "auditlog_auditeventdaycount",
    "auditlog_auditeventdaymark",
)
# Functions the application may call (created by auditlog's migrations): none. The purge
# is the owner's alone.
APP_FUNCTIONS: tuple[str, ...] = ()
OWNER_ONLY_FUNCTIONS = ("audit_purge(bigint, text, bigint)",)

_owner_mode: ContextVar[bool] = ContextVar("auditlog_owner_mode", default=False)


def owner_db(using: str = "default") -> str:
    """The alias that logs in as the owner of `using`'s database (itself if none is set)."""
    return settings.DATABASES[using].get("OWNER_ALIAS") or using


@contextmanager
def owner_mode(using: str = "default") -> Iterator[str]:
    """Within the block the ORM reads and writes through the owner's login; yields its alias."""
    token = _owner_mode.set(True)
    try:
        yield owner_db(using)
    finally:
        _owner_mode.reset(token)


class OwnerRouter:
    """DATABASE_ROUTERS: the ORM's default alias is the owner's inside owner_mode()."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return owner_db() if _owner_mode.get() else None

    db_for_write = db_for_read


def app_role(connection: Any) -> str | None:
    """The group role to grant to (only the owner's connection grants)."""
    return APP_ROLE


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
  -- No temporary tables: one named like an audit table would shadow it for the session.
  IF has_database_privilege(app, current_database(), 'TEMPORARY') THEN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM %I', current_database(), app);
  END IF;
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
  FOREACH f IN ARRAY {owner_only}::text[] LOOP
    IF to_regprocedure(f) IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', to_regprocedure(f));
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', to_regprocedure(f), app);
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


def grant_app_role(connection: Any) -> None:
    """Give the application role exactly its privileges on every table of the schema."""
    _run(
        connection,
        _GRANT,
        append_only=sql.Literal(list(APPEND_ONLY_TABLES)),
        read_only=sql.Literal(list(READ_ONLY_TABLES)),
        functions=sql.Literal(list(APP_FUNCTIONS)),
        owner_only=sql.Literal(list(OWNER_ONLY_FUNCTIONS)),
    )


def grant_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: tables created by any app's migration get their grants at once."""
    grant_app_role(connections[owner_db(using)])


def role_problems(alias: str) -> list[str]:
    """What is wrong with the logins of `alias` and its owner, for the system check."""
    owner = owner_db(alias)
    problems = []
    if owner == alias:
        problems.append(
            f"no owner login is configured for {alias!r} (DATABASE_OWNER_URL): migrations "
            "and platform jobs would run as the application's login"
        )
    with connections[alias].cursor() as cursor:
        cursor.execute(
            """
            SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,
                   pg_has_role(current_user, %(app)s, 'USAGE'),
                   (SELECT array_agg(g.rolname ORDER BY g.rolname) FROM pg_auth_members m
                      JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid),
                   (SELECT d.datdba = r.oid FROM pg_database d
                     WHERE d.datname = current_database())
              FROM pg_roles r WHERE r.rolname = current_user
            """,
            {"app": APP_ROLE},
        )
        row = cursor.fetchone()
        cursor.execute("SELECT current_user")
        login = cursor.fetchone()[0]
    superuser, bypass, createrole, createdb, has_app, groups, owns_db = row
    if superuser or bypass or createrole or createdb:
        problems.append(
            f"the application's login {login!r} is a superuser or may bypass row-level "
            "security, create roles or databases"
        )
    if owns_db:
        problems.append(f"the application's login {login!r} owns the database")
    if not has_app:
        problems.append(f"the application's login {login!r} is not a member of {APP_ROLE!r}")
    others = [group for group in groups or [] if group != APP_ROLE]
    if others:
        problems.append(
            f"the application's login {login!r} is also a member of {', '.join(others)}"
        )
    return problems
