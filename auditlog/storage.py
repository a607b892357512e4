"""Raw SQL that writes audit rows: the few statements the ORM cannot say fast enough."""

import json
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
# Large batches travel as one JSON array of rows, expanded by PostgreSQL. Not COPY:
# PostgreSQL refuses COPY FROM into a table with row-level security, and the application's
# role is subject to it. Not a long VALUES list either: quoting thousands of parameters
# client-side costs more than the INSERT itself (measured: 11 ms vs 1.2 ms for 100 rows); jsonb, so each row is parsed once.
_CASTS = {
    "org_id": "bigint",
    "occurred_at": "timestamptz",
    "change_id": "uuid",
    "ip_address": "inet",
    **dict.fromkeys(JSON_COLUMNS, "jsonb"),
}
_FROM_JSON = (
    sql.SQL(
        "INSERT INTO {table} ({columns}) SELECT {values} FROM jsonb_array_elements(%s::jsonb) r"
    )
    .format(
        table=sql.Identifier(TABLE),
        columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        values=sql.SQL(", ").join(
            sql.SQL("(r->>{})::{}").format(sql.Literal(i), sql.SQL(_CASTS[column]))
            if column in _CASTS
            else sql.SQL("r->>{}").format(sql.Literal(i))
            for i, column in enumerate(COLUMNS)
        ),
    )
    .as_bytes(None)
)
_OCCURRED_AT = COLUMNS.index("occurred_at")
_CHANGE_ID = COLUMNS.index("change_id")
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# From this many rows the JSON form is cheaper than a VALUES list; below it, the VALUES
# statement's shape is cached and its few parameters quote quickly.
JSON_THRESHOLD = 16


def _as_json(rows: list[Row]) -> str:
    return _json(
        [
            [
                *row[:_OCCURRED_AT],
                row[_OCCURRED_AT].isoformat(),
                *row[_OCCURRED_AT + 1 : _CHANGE_ID],
                str(row[_CHANGE_ID]),
                *row[_CHANGE_ID + 1 :],
            ]
            for row in rows
        ]
    )


def _statement_and_params(rows: list[Row], commit: bool) -> tuple[bytes, list[Any]]:
    if len(rows) >= JSON_THRESHOLD:
        return (_FROM_JSON + b"; COMMIT" if commit else _FROM_JSON), [_as_json(rows)]
    return _insert_statement(len(rows), commit), [value for row in rows for value in row]


def write_rows(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Write rows inside the current transaction."""
    statement, params = _statement_and_params(rows, commit=False)
    with psycopg.ClientCursor(conn) as cursor:
        cursor.execute(statement, params)


def write_rows_and_commit(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Write rows and COMMIT in one network round trip, whatever the batch size.

    Up to PREPARED_MAX rows go as `EXECUTE <prepared INSERT>(…); COMMIT` in one
    simple-protocol message: one round trip, and the server reuses the INSERT's plan
    instead of parsing and planning a long statement each time; more rows go as one
    INSERT from a jsonb array, with COMMIT in the same message. If the INSERT fails the
    server skips the COMMIT and the error propagates, so the caller rolls the whole
    transaction back.
    """
    count = len(rows)
    if count > PREPARED_MAX:
        statement, params = _statement_and_params(rows, commit=True)
    else:
        statement = _execute_and_commit_statement(conn, count)
        params = [value for row in rows for value in row]
    with psycopg.ClientCursor(conn) as cursor:
        cursor.execute(statement, params)


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
