"""Django's PostgreSQL backend plus a pre-commit hook for the audit buffer, the app role and RLS.

The recorder buffers rows while a transaction is open. They are written:
- together with COMMIT (one round trip for a small batch), so a failed write fails the
  commit and the change rolls back with it;
- when a savepoint is released directly under a test case's wrapping transaction, which
  never commits (tests see their rows as production would after commit);
- before any statement that reads the audit table, so a transaction reads its own rows.
Rows buffered inside a savepoint that rolls back are dropped with it.

Trust (docs/scaling.md): every connection switches to the application's restricted role
(`OPTIONS["assume_role"]`, SET ROLE) unless it is in owner mode (migrate, flush, platform
jobs). Before SQL that touches the audit table, the session's `app.org_id`, which the
table's row-level security policy reads, is made equal to the audit context's organisation;
the value is cached per connection, so it costs a round trip only when it changes, and
never on the write path (inserts are allowed for any organisation).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.postgresql import base
from django.db.utils import DEFAULT_DB_ALIAS
from psycopg import sql

from auditlog import context, storage

log = logging.getLogger(__name__)

NO_DB_ALIAS = "__no_db__"  # Django's alias for its maintenance-database connections
_SET_ORG = "SELECT set_config('app.org_id', %s, false)"


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit_buffer: list[storage.Row] = []
        self._audit_marks: dict[str, int] = {}
        # > 0 while in owner mode: the connection runs as the role it logged in with.
        self.owner_mode_depth = 0
        self.app_role_missing = False
        # The session's app.org_id as last set; None when unknown (new or rolled back).
        self._audit_org: str | None = None
        self.execute_wrappers.append(self._before_audit_sql)

    # -- the audit buffer ------------------------------------------------------------------

    def buffer_audit_rows(self, rows: list[storage.Row]) -> None:
        if self.in_atomic_block:
            self.audit_buffer.extend(rows)
            return
        # Autocommit: nothing to ride along with, write now.
        self.ensure_connection()
        with self.wrap_database_errors:
            storage.write_rows(self.connection, rows)

    def flush_audit_buffer(self) -> None:
        if not self.audit_buffer:
            return
        rows, self.audit_buffer = self.audit_buffer, []
        # Flushed rows now live in the database, where savepoint rollbacks reach them.
        self._audit_marks = dict.fromkeys(self._audit_marks, 0)
        with self.wrap_database_errors:
            storage.write_rows(self.connection, rows)

    def _before_audit_sql(self, execute, sql, params, many, execution):  # noqa: ANN001
        if storage.TABLE in sql:
            if self.audit_buffer:
                self.flush_audit_buffer()
            self.use_audit_org(context.current().org_id)
        return execute(sql, params, many, execution)

    # -- row-level security: the session's organisation ------------------------------------

    def use_audit_org(self, org_id: int | None) -> None:
        """Make the session's `app.org_id` equal `org_id` (None: no organisation, no rows).

        Raw psycopg cursors that read the audit table (COPY exports) call this themselves.
        """
        wanted = "" if org_id is None else str(int(org_id))
        if self._audit_org == wanted:
            return
        self.ensure_connection()
        with self.wrap_database_errors:
            self.connection.execute(_SET_ORG, (wanted,))
        self._audit_org = wanted

    def reset_audit_org(self) -> None:
        """At the end of a request: a kept-alive connection carries no organisation onward."""
        if self.connection is None or self._audit_org == "":
            return
        try:
            self.use_audit_org(None)
        except DatabaseError:
            # A connection whose setting cannot be cleared must not serve anyone else.
            log.warning("could not clear app.org_id; closing the connection", exc_info=True)
            if not self.in_atomic_block:
                self.close()

    # -- the application role and owner mode -----------------------------------------------

    @contextmanager
    def owner_mode(self) -> Iterator[None]:
        """Run as the role the connection logged in with (the tables' owner): for migrations,
        flush and platform jobs. Restores the application role on exit."""
        self.owner_mode_depth += 1
        try:
            if self.owner_mode_depth == 1 and self.connection is not None:
                with self.wrap_database_errors, self.connection.cursor() as cursor:
                    cursor.execute("RESET ROLE")
            yield
        finally:
            self.owner_mode_depth -= 1
            if self.owner_mode_depth == 0 and self.connection is not None:
                with self.wrap_database_errors:
                    self._configure_role(self.connection)

    @property
    def app_role(self) -> str | None:
        return self.settings_dict["OPTIONS"].get("assume_role") or None

    def _configure_role(self, connection: psycopg.Connection) -> bool:
        # Maintenance connections (CREATE/DROP DATABASE) and owner mode keep the login role.
        if self.owner_mode_depth or self.alias == NO_DB_ALIAS or not self.app_role:
            return False
        try:
            # On `connection` itself: Django's version quotes through this wrapper, which
            # inside a pool's configure callback waits for the pool forever.
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(self.app_role)))
            return True
        except psycopg.errors.InvalidParameterValue:
            # The role is created by auditlog's migrations; until then (a fresh database)
            # the connection keeps its login role and the system check auditlog.W003 says so.
            if not self.app_role_missing and self.alias == DEFAULT_DB_ALIAS:
                log.warning("database role %r does not exist; run migrate", self.app_role)
            self.app_role_missing = True
            return False

    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection:
        # A pooled connection may carry another request's setting: treat it as unknown.
        self._audit_org = None
        return super().get_new_connection(conn_params)

    # -- transactions ----------------------------------------------------------------------

    def _commit(self) -> None:
        if self.audit_buffer and self.connection is not None:
            rows, self.audit_buffer = self.audit_buffer, []
            self._audit_marks.clear()
            with self.wrap_database_errors:
                storage.write_rows_and_commit(self.connection, rows)
            return
        super()._commit()

    def _rollback(self) -> None:
        self.audit_buffer = []
        self._audit_marks.clear()
        # A setting changed inside the transaction reverts with it.
        self._audit_org = None
        super()._rollback()

    def _savepoint(self, sid: str) -> None:
        self._audit_marks[sid] = len(self.audit_buffer)
        super()._savepoint(sid)

    def _savepoint_rollback(self, sid: str) -> None:
        mark = self._audit_marks.pop(sid, None)
        if mark is not None:
            del self.audit_buffer[mark:]
        self._audit_org = None
        super()._savepoint_rollback(sid)

    def _savepoint_commit(self, sid: str) -> None:
        # Flush before RELEASE, so a failed write can still roll back to this savepoint.
        if (
            self.audit_buffer
            and self.atomic_blocks
            and all(getattr(block, "_from_testcase", False) for block in self.atomic_blocks)
        ):
            self.flush_audit_buffer()
        self._audit_marks.pop(sid, None)
        super()._savepoint_commit(sid)

    def _close(self) -> None:
        self.audit_buffer = []
        self._audit_marks.clear()
        if self.pool and self.connection is not None and self._audit_org:
            # Back to the pool: the next borrower must not inherit this organisation.
            try:
                self.connection.execute(_SET_ORG, ("",))
            except psycopg.Error:
                log.warning("could not clear app.org_id on a pooled connection", exc_info=True)
        self._audit_org = None
        super()._close()
