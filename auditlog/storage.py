"""Raw SQL that writes audit rows: the few statements the ORM cannot say fast enough."""

from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg import sql

TABLE = "auditlog_auditevent"

COLUMNS: tuple[str, ...] = (
    "org_id",
    "occurred_at",
    "event_type",
    "action",
    "section",
    "property",
    "before",
    "after",
    "actor_type",
    "actor_id",
    "actor_name",
    "subject_type",
    "subject_id",
    "subject_name",
    "change_id",
    "ip_address",
    "user_agent",
    "request_id",
    "metadata",
)
JSON_COLUMNS = frozenset({"before", "after", "metadata"})

# A row is a tuple in COLUMNS order; JSON columns hold JSON text (or None for SQL NULL).
Row = tuple[Any, ...]

_PLACEHOLDERS = sql.SQL("({})").format(
    sql.SQL(", ").join(
        sql.SQL("%s::jsonb") if column in JSON_COLUMNS else sql.SQL("%s") for column in COLUMNS
    )
)
_INSERT_HEAD = sql.SQL("INSERT INTO {} ({}) VALUES ").format(
    sql.Identifier(TABLE), sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
)
_COPY = (
    sql.SQL("COPY {} ({}) FROM STDIN")
    .format(sql.Identifier(TABLE), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    .as_bytes(None)
)

# Past this many rows COPY beats a multi-row INSERT; below it the INSERT can ride
# along with COMMIT in a single round trip.
COPY_THRESHOLD = 64


def write_rows(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Write rows inside the current transaction."""
    if len(rows) >= COPY_THRESHOLD:
        with conn.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row(row)
        return
    with conn.cursor() as cursor:
        cursor.execute(_insert_statement(len(rows)), [value for row in rows for value in row])


def write_rows_and_commit(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Write rows and COMMIT in one network round trip when the batch is small.

    The rows go as `EXECUTE <prepared INSERT>(…); COMMIT` in one simple-protocol message:
    one round trip, and the server reuses the INSERT's plan instead of parsing and
    planning a long statement each time. If the INSERT fails the server skips the
    COMMIT and the error propagates, so the caller rolls the whole transaction back.
    """
    count = len(rows)
    if count >= COPY_THRESHOLD:
        write_rows(conn, rows)
        conn.commit()
        return
    statement = _execute_and_commit_statement(conn, count) if count <= PREPARED_MAX else None
    if statement is None:
        statement = _insert_statement(count, commit=True)
    with psycopg.ClientCursor(conn) as cursor:
        cursor.execute(statement, [value for row in rows for value in row])


# Batches up to this size get a server-side prepared INSERT (one per size and connection).
PREPARED_MAX = 16
_SQL_TYPES = {
    "org_id": "bigint",
    "occurred_at": "timestamptz",
    "change_id": "uuid",
    "ip_address": "inet",
}
_prepared: "WeakKeyDictionary[psycopg.Connection, set[int]]" = WeakKeyDictionary()


def _execute_and_commit_statement(conn: psycopg.Connection, count: int) -> bytes:
    """`EXECUTE auditdesk_audit_insert_<n>(%s, …); COMMIT`, preparing it on first use.

    PREPARE is session state outside transactions, so it is issued once per connection
    and size; a new connection (Django reconnects with a new psycopg object) prepares anew.
    """
    name = f"auditdesk_audit_insert_{count}"
    prepared = _prepared.setdefault(conn, set())
    if count not in prepared:
        types = ", ".join(
            "jsonb" if column in JSON_COLUMNS else _SQL_TYPES.get(column, "text")
            for column in COLUMNS
        )
        width = len(COLUMNS)
        values = ", ".join(
            "(" + ", ".join(f"${row * width + index + 1}" for index in range(width)) + ")"
            for row in range(count)
        )
        columns = ", ".join(COLUMNS)
        conn.execute(
            f"PREPARE {name} ({', '.join([types] * count)}) AS INSERT INTO {TABLE} ({columns}) VALUES {values}"
        )
        prepared.add(count)
    key = (-count, True)
    statement = _statements.get(key)
    if statement is None:
        placeholders = ", ".join(["%s"] * (len(COLUMNS) * count))
        statement = _statements[key] = f"EXECUTE {name} ({placeholders}); COMMIT".encode()
    return statement


_statements: dict[tuple[int, bool], bytes] = {}


def _insert_statement(count: int, commit: bool = False) -> bytes:
    # Composing SQL costs more than executing a one-row INSERT: build each shape once.
    key = (count, commit)
    statement = _statements.get(key)
    if statement is None:
        composed = _INSERT_HEAD + sql.SQL(", ").join([_PLACEHOLDERS] * count)
        if commit:
            composed += sql.SQL("; COMMIT")
        statement = _statements[key] = composed.as_bytes(None)
    return statement
