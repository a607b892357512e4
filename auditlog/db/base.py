"""Django's PostgreSQL backend plus a pre-commit hook for the audit buffer.

The recorder buffers rows while a transaction is open. They are written:
- together with COMMIT (one round trip for a small batch), so a failed write fails the
  commit and the change rolls back with it;
- when a savepoint is released directly under a test case's wrapping transaction, which
  never commits (tests see their rows as production would after commit);
- before any statement that reads the audit table, so a transaction reads its own rows.
Rows buffered inside a savepoint that rolls back are dropped with it.
"""

from typing import Any

from django.db.backends.postgresql import base

from auditlog import storage


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.audit_buffer: list[storage.Row] = []
        self._audit_marks: dict[str, int] = {}
        self.execute_wrappers.append(self._flush_before_audit_reads)

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

    def _flush_before_audit_reads(self, execute, sql, params, many, context):  # noqa: ANN001
        if self.audit_buffer and storage.TABLE in sql:
            self.flush_audit_buffer()
        return execute(sql, params, many, context)

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
        super()._rollback()

    def _savepoint(self, sid: str) -> None:
        self._audit_marks[sid] = len(self.audit_buffer)
        super()._savepoint(sid)

    def _savepoint_rollback(self, sid: str) -> None:
        mark = self._audit_marks.pop(sid, None)
        if mark is not None:
            del self.audit_buffer[mark:]
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
        super()._close()
