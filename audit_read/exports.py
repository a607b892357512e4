"""Exports of the log at database speed: `COPY (SELECT …) TO STDOUT`, formatted by PostgreSQL.

Python never touches a row: the filtered queryset's own SQL (so the filters are exactly the
API's) is wrapped in COPY with every field formatted in SQL, and the bytes are passed on
unchanged, to an HTTP response (streamed) or to a file (background export, with progress).
Memory stays flat whatever the size; only one chunk is held at a time.
"""

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connections, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from audit_read import paging
from audit_read.filters import active_filters, filter_events
from auditlog.models import AuditEventQuerySet, AuditExport
from auditlog.recorder import record

log = logging.getLogger(__name__)

FORMATS: dict[str, dict[str, str]] = {
    "csv": {"content_type": "text/csv; charset=utf-8", "extension": "csv"},
    "ndjson": {"content_type": "application/x-ndjson; charset=utf-8", "extension": "ndjson"},
}

# SPEC section 3's timestamp: UTC, microseconds, explicit offset (same as the JSON API).
_TIMESTAMP = """to_char("occurred_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
# host(), not ::text, which would append the netmask ("192.0.2.1/32").
_IP = """host("ip_address")"""

# CSV columns: SPEC section 3's fields with performed_by and subject flattened. JSON values
# (before, after, metadata) are JSON text, so a string, a list and null stay distinguishable.
_CSV_VALUES: tuple[tuple[str, str], ...] = (
    ("id", '"id"::text'),
    ("occurred_at", _TIMESTAMP),
    ("event_type", '"event_type"'),
    ("action", '"action"'),
    ("section", '"section"'),
    ("property", '"property"'),
    ("before", '"before"'),
    ("after", '"after"'),
    ("performed_by_type", '"actor_type"'),
    ("performed_by_id", '"actor_id"'),
    ("performed_by_name", '"actor_name"'),
    ("subject_type", '"subject_type"'),
    ("subject_id", '"subject_id"'),
    ("subject_name", '"subject_name"'),
    ("change_id", '"change_id"::text'),
    ("ip_address", _IP),
    ("user_agent", '"user_agent"'),
    ("request_id", '"request_id"'),
    ("metadata", '"metadata"'),
)
# Formatted here from typed values, they cannot start with = + - @ tab or CR: an identity
# (positive), a timestamp, a UUID, an IP address (a digit, a hex digit or ':').
_TYPED_CELLS = frozenset({"id", "occurred_at", "change_id", "ip_address"})
# Every other cell, streamed and background alike, is made by `audit_csv_cell` (migration
# 0013): one starting with = + - @ tab or CR gets a leading ' so a spreadsheet shows it
# instead of evaluating it (OWASP). JSON cells too: a negative number is written '-5.
CSV_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, sql if name in _TYPED_CELLS else f"audit_csv_cell({sql})") for name, sql in _CSV_VALUES
)
CSV_HEADER = (",".join(name for name, _ in CSV_COLUMNS) + "\r\n").encode()

# One JSON object per line, keys in SPEC section 3's order: the event's line
# (`audit_event_line`, migration 0012), the very bytes its seal hashed, so an export can be
# verified offline against the signed digests (scripts/verify_export.py).
NDJSON_LINE = 'audit_event_line("auditlog_auditevent")'

# FORMAT csv with RFC 4180 line ends, matching the header we write ourselves.
_COPY_OPTIONS = {
    "csv": "FORMAT csv",
    # FORMAT text would double every backslash and plain csv would quote each line; JSON
    # text never holds a raw control character, so with these two as quote and delimiter
    # every line comes out byte for byte.
    "ndjson": "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'",
}

CHUNK_BYTES = 256 * 1024


class ExportError(ValueError):
    """Bad export input: `errors` is {parameter: problem}."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _constant_sql(sql: str) -> RawSQL:
    # Only this module's constant expressions reach here; user input never does.
    return RawSQL(sql, ())  # noqa: S611


def select_sql(queryset: AuditEventQuerySet, fmt: str, *, using: str = "default") -> str:
    """The formatted SELECT for a filtered queryset, with its parameters bound in.

    COPY takes no bind parameters, so the values are quoted by psycopg's own adapters
    (the same ones Django uses), never by string formatting.
    """
    if fmt == "csv":
        names = [f"c{i}" for i in range(len(CSV_COLUMNS))]
        expressions = [expression for _, expression in CSV_COLUMNS]
        annotated = queryset.annotate(
            **{name: _constant_sql(sql) for name, sql in zip(names, expressions, strict=True)}
        ).values_list(*names)
    elif fmt == "ndjson":
        annotated = queryset.annotate(line=_constant_sql(NDJSON_LINE)).values_list("line")
    elif fmt == "count":
        # The same FROM and WHERE, nothing to format or order: for counting the rows.
        annotated = queryset.order_by().annotate(one=_constant_sql("1")).values_list("one")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    sql, params = annotated.query.sql_with_params()
    connection = connections[using]
    connection.ensure_connection()
    return connection.ops.compose_sql(sql, params)


def copy_statement(queryset: AuditEventQuerySet, fmt: str, *, using: str = "default") -> str:
    return f"COPY ({select_sql(queryset, fmt, using=using)}) TO STDOUT ({_COPY_OPTIONS[fmt]})"


def header(fmt: str) -> bytes:
    return CSV_HEADER if fmt == "csv" else b""


def prepare_reader(connection: Any, org_id: int) -> None:
    """Before a raw COPY on `connection`: its own buffered rows written, its organisation set.

    Raw psycopg cursors bypass the backend's execute hooks, so this does what they would:
    flush rows this transaction buffered (they belong in the export) and point the
    row-level security setting at the organisation being exported.
    """
    connection.ensure_connection()
    flush = getattr(connection, "flush_audit_buffer", None)
    if flush is not None:
        flush()
    use_org = getattr(connection, "use_audit_org", None)
    if use_org is not None:
        use_org(org_id)


def stream(
    queryset: AuditEventQuerySet, fmt: str, *, org_id: int, using: str = "default"
) -> Iterator[bytes]:
    """The export's bytes in chunks of about CHUNK_BYTES, straight from PostgreSQL."""
    statement = copy_statement(queryset, fmt, using=using)
    connection = connections[using]

    def chunks() -> Iterator[bytes]:
        yield header(fmt)
        # Runs while the response is sent, after the view has returned: prepare here.
        prepare_reader(connection, org_id)
        buffer = bytearray()
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for data in copy:
                buffer += data
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
        if buffer:
            yield bytes(buffer)

    return chunks()


def _normalised_filters(org: Any, filters: Any) -> dict[str, str]:
    if not isinstance(filters, Mapping):
        raise ExportError({"filters": "Must be an object of filter parameters."})
    _, errors = filter_events(org, filters, strict=True)
    if errors:
        raise ExportError({f"filters.{name}": message for name, message in errors.items()})
    return active_filters(filters)


def export_record(*, fmt: str, filters: dict[str, str], export: AuditExport | None = None) -> None:
    """Starting an export is itself an event: who took a copy of the log, and of what."""
    record(
        section="Export",
        action="create",
        subject_type="export",
        subject_id=None if export is None else export.pk,
        subject_name=f"{fmt.upper()} export" + ("" if export is not None else " (download)"),
        property="format",
        after=fmt,
        metadata={"filters": filters, "delivery": "file" if export is not None else "stream"},
    )


def ordered(queryset: AuditEventQuerySet, order: str) -> AuditEventQuerySet:
    """The filtered events newest first (paging.DESC) or oldest first (paging.ASC), on
    (occurred_at, id) either way: one index range, read forwards or backwards."""
    if order == paging.ASC:
        return queryset.order_by("occurred_at", "id")
    return queryset.order_by("-occurred_at", "-id")


def export_stream_start(*, org: Any, fmt: str, params: Mapping[str, Any]) -> Iterator[bytes]:
    """Validate, record, and return the streamed export of the filtered log, in the
    `order` parameter's order (newest first by default)."""
    if fmt not in FORMATS:
        raise ExportError({"format": f"Use one of: {', '.join(FORMATS)}."})
    queryset, errors = filter_events(org, params)
    order = paging.DESC
    try:
        order = paging.order_from(params)
    except paging.PagingError as problem:
        errors = {**errors, **problem.as_errors()}
    if errors:
        raise ExportError(errors)
    filters = active_filters(params)
    if order == paging.ASC:
        filters["order"] = order
    export_record(fmt=fmt, filters=filters)
    return stream(ordered(queryset, order), fmt, org_id=org.pk)


def export_start(
    *,
    org: Any,
    fmt: Any,
    filters: Any,
    requested_by: str,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> AuditExport:
    """Create a background export; a Celery worker writes the file once this commits."""
    if fmt not in FORMATS:
        raise ExportError({"format": f"Use one of: {', '.join(FORMATS)}."})
    filters = filters if filters is not None else {}
    order = paging.DESC
    if isinstance(filters, Mapping) and "order" in filters:
        # Not a filter but how the file is ordered: kept in `filters` only when oldest first.
        filters = dict(filters)
        try:
            order = paging.order_from({"order": filters.pop("order")})
        except paging.PagingError as problem:
            raise ExportError({"filters.order": problem.message}) from None
    normalised = _normalised_filters(org, filters)
    if order == paging.ASC:
        normalised["order"] = order
    with transaction.atomic():
        export = AuditExport(
            format=fmt,
            filters=normalised,
            requested_by=requested_by[:255],
            org_id=org.pk,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        export.save()
        export_record(fmt=fmt, filters=normalised, export=export)
        transaction.on_commit(lambda: _enqueue(export))
    return export


# Shown on a pending export whose task could not be sent (the broker, Redis, is down).
QUEUE_WAIT = "Waiting for the task queue; the export starts as soon as it is back."


def _enqueue(export: AuditExport) -> None:
    # The export is committed either way. If the broker is unreachable the request still
    # succeeds and the export waits, pending, until exports_enqueue_waiting sends it.
    try:
        export_run_task.delay(str(export.pk))
    except Exception:
        log.warning("could not queue audit export %s; it waits for the broker", export.pk)
        _set(export.pk, error=QUEUE_WAIT)
        export.error = QUEUE_WAIT


def exports_enqueue_waiting() -> int:
    """Send the exports that could not be queued while the broker was down; returns how many."""
    waiting = AuditExport.all_tenants.filter(status=AuditExport.Status.PENDING, error=QUEUE_WAIT)
    sent = 0
    for pk in waiting.values_list("pk", flat=True):
        # Claimed before sending, so two sweeps never queue one export twice.
        if not waiting.filter(pk=pk).update(error=""):
            continue
        try:
            export_run_task.delay(str(pk))
        except Exception:
            _set(pk, error=QUEUE_WAIT)
            raise
        sent += 1
    return sent


def export_path(export: AuditExport) -> Path:
    return Path(settings.EXPORT_DIR) / str(export.org_id) / export.file_name


def _set(export_id: Any, **fields: Any) -> None:
    AuditExport.all_tenants.filter(pk=export_id).update(**fields)


def export_run(*, export_id: str) -> AuditExport | None:
    """Write an export's file: count and COPY in one snapshot, so progress ends at exactly 100."""
    export = AuditExport.all_tenants.select_related("org").filter(pk=export_id).first()
    if export is None or export.status not in (
        AuditExport.Status.PENDING,
        AuditExport.Status.RUNNING,
    ):
        return export
    org = export.org
    fmt = export.format
    queryset, errors = filter_events(org, export.filters)
    if errors:
        _set(export.pk, status=AuditExport.Status.FAILED, error="; ".join(errors.values()))
        return export
    queryset = ordered(queryset, export.filters.get("order", paging.DESC))
    export.file_name = f"{export.pk}.{FORMATS[fmt]['extension']}"
    _set(
        export.pk,
        status=AuditExport.Status.RUNNING,
        started_at=timezone.now(),
        file_name=export.file_name,
        progress=0,
        rows_written=0,
    )
    final = export_path(export)
    final.parent.mkdir(parents=True, exist_ok=True)
    select = select_sql(queryset, fmt)
    count_sql = select_sql(queryset, "count")
    # A connection of its own: its snapshot transaction must not hide our progress updates.
    reader = connections.create_connection("default")
    fd, temp_name = tempfile.mkstemp(prefix=".export-", dir=final.parent)
    rows = size = 0
    try:
        prepare_reader(reader, org.pk)
        pg = reader.connection
        with pg.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SELECT count(*) FROM ({count_sql}) AS matching")  # noqa: S608
            expected = cursor.fetchone()[0]
            _set(export.pk, rows_expected=expected)
            # One progress update per percent: about a hundred small UPDATEs per export.
            step = max(1, expected // 100)
            next_report = step
            statement = f"COPY ({select}) TO STDOUT ({_COPY_OPTIONS[fmt]})"
            with os.fdopen(fd, "wb", buffering=CHUNK_BYTES) as out, cursor.copy(statement) as copy:
                out.write(header(fmt))
                size += len(header(fmt))
                for data in copy:
                    out.write(data)
                    rows += 1
                    size += len(data)
                    if rows >= next_report:
                        next_report += step
                        percent = min(99, rows * 100 // expected)
                        _set(export.pk, rows_written=rows, progress=percent)
            cursor.execute("COMMIT")
        os.replace(temp_name, final)
    except Exception:
        log.exception("audit export %s failed", export.pk)
        Path(temp_name).unlink(missing_ok=True)
        _set(
            export.pk,
            status=AuditExport.Status.FAILED,
            error="The export failed; please try again.",
            finished_at=timezone.now(),
        )
        raise
    finally:
        reader.close()
    finished = timezone.now()
    _set(
        export.pk,
        status=AuditExport.Status.DONE,
        progress=100,
        rows_written=rows,
        size_bytes=size,
        finished_at=finished,
        expires_at=finished + timedelta(hours=settings.EXPORT_TTL_HOURS),
    )
    export.refresh_from_db()
    return export


def exports_delete_expired() -> int:
    """Delete the files of exports past their expiry (all organisations); returns how many."""
    now = timezone.now()
    expired = AuditExport.all_tenants.filter(status=AuditExport.Status.DONE, expires_at__lte=now)
    count = 0
    for export in expired.iterator():
        export_path(export).unlink(missing_ok=True)
        _set(export.pk, status=AuditExport.Status.EXPIRED)
        count += 1
    # Failed or abandoned runs may leave a partial file behind; never keep them past the TTL.
    stale = now - timedelta(hours=settings.EXPORT_TTL_HOURS)
    for export in AuditExport.all_tenants.filter(
        status__in=[
            AuditExport.Status.FAILED,
            AuditExport.Status.PENDING,
            AuditExport.Status.RUNNING,
        ],
        created_at__lte=stale,
    ).iterator():
        if export.file_name:
            export_path(export).unlink(missing_ok=True)
        if export.status != AuditExport.Status.FAILED:
            _set(
                export.pk,
                status=AuditExport.Status.FAILED,
                error="The export did not finish in time.",
            )
    return count


@shared_task(name="auditlog.export_run")
def export_run_task(export_id: str) -> None:
    export_run(export_id=export_id)


@shared_task(name="auditlog.exports_enqueue_waiting")
def exports_enqueue_waiting_task() -> int:
    return exports_enqueue_waiting()


@shared_task(name="auditlog.exports_delete_expired")
def exports_delete_expired_task() -> int:
    return exports_delete_expired()
