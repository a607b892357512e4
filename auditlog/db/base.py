"""Django's PostgreSQL backend plus a pre-commit hook for the audit buffer, the app role and RLS.

The recorder buffers rows while a transaction is open. They are written:
- together with COMMIT (one round trip for a small batch), so a failed write fails the
  commit and the change rolls back with it;
- when a savepoint is released directly under a test case's wrapping transaction, which
  never commits (tests see their rows as production would after commit);
- before any statement that reads the audit table, so a transaction reads its own rows.
Rows buffered inside a savepoint that rolls back are dropped with it.

Trust (docs/trust.md): `default` logs in as the application's restricted login and
`owner` as the schema's owner; nothing here switches roles. Before SQL that touches the
audit table, the session's `app.org_id`, which the table's row-level security policies
read, is made equal to the audit context's organisation; the value is cached per
connection, so it costs a round trip only when it changes. Writes set it to each row's
organisation in the INSERT's own message (an INSERT for another organisation is refused).
"""

import logging
from typing import Any

import psycopg
from django.db import DatabaseError
from django.db.backends.postgresql import base

from auditlog import storage
from auditlog.db.creation import DatabaseCreation
from core import context

log = logging.getLogger(__name__)

_SET_ORG = "SELECT set_config('app.org_id', %s, false)"


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit_buffer: list[storage.Row] = []
        self._audit_marks: dict[str, int] = {}
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
        self._write(rows)

    def _write(self, rows: list[storage.Row], *, commit: bool = False) -> None:
        write = storage.write_rows_and_commit if commit else storage.write_rows
        with self.wrap_database_errors:
            try:
                self._audit_org = write(self.connection, rows, self._audit_org)
            except Exception:
                self._audit_org = None
                raise

    def flush_audit_buffer(self) -> None:
        if not self.audit_buffer:
            return
        rows, self.audit_buffer = self.audit_buffer, []
        # Flushed rows now live in the database, where savepoint rollbacks reach them.
        self._audit_marks = dict.fromkeys(self._audit_marks, 0)
        self._write(rows)

    def _before_audit_sql(self, execute, sql, params, many, execution):  # noqa: ANN001
        if storage.TABLE in sql:
            if self.audit_buffer:
                self.flush_audit_buffer()
            self.use_audit_org(context.current().org_id)
        return execute(sql, params, many, execution)

    # -- row-level security: the session's organisation ------------------------------------

    def use_audit_org(self, org_id: int | None, *, force: bool = False) -> None:
        """Make the session's `app.org_id` equal `org_id` (None: no organisation, no rows).

        Raw psycopg cursors that read the audit table (COPY exports) call this themselves;
        `force`: set it even if the cached value says it is set (sealing, which must not
        miss rows because SQL outside Django changed the setting).
        """
        wanted = "" if org_id is None else str(int(org_id))
        if self._audit_org == wanted and not force:
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

    def get_new_connection(self, conn_params: dict[str, Any]) -> psycopg.Connection:
        # A pooled connection may carry another request's setting: treat it as unknown.
        self._audit_org = None
        return super().get_new_connection(conn_params)

    # -- transactions ----------------------------------------------------------------------

    def _commit(self) -> None:
        if self.audit_buffer and self.connection is not None:
            rows, self.audit_buffer = self.audit_buffer, []
            self._audit_marks.clear()
            self._write(rows, commit=True)
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
