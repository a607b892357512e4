"""Fill a benchmark database with millions of realistic audit rows, fast (benchmarks only).

The one sanctioned exception to "only the recorder writes audit rows": rows are generated
inside PostgreSQL (`SELECT … FROM generate_series`) and loaded into the real (monthly
partitioned) table as the schema's owner (DATABASE_OWNER_URL, Django's "owner" alias): a
few large organisations and a long Zipf tail of small ones, every event type and section of
the catalog, over the last D days. Every row carries a valid MAC (auditlog/mac.py, computed
by loader processes on the values sealing reads back), so sealed bench data verifies. The
months' partitions are created first (`audit_ensure_partition`), so no row lands in the
DEFAULT partition. Secondary indexes are dropped during the load and rebuilt after, several
times faster than maintaining them row by row. Refuses to run on a database whose name does
not contain "bench".
"""

import contextlib
import math
import multiprocessing
import os
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.utils import timezone
from tqdm import tqdm

from accounts.models import Organization, User
from accounts.services import organization_create, user_create
from auditlog import catalog, daycounts, mac, storage
from auditlog.models import AuditEvent
from auditlog.roles import owner_db
from core.tenancy import tenant

CHUNK = 50_000  # rows per loader job (one COPY out, one or two COPYs in)
BENCH_PASSWORD = "bench-viewer-password"  # noqa: S105 - a throwaway benchmark account

# (event_type, section, action, property, subject_type, weight, values, actors)
#   values: how before/after look; actors: who performs it.
KINDS: list[tuple[str, str, str, str | None, str, float, str, str]] = [
    ("authorization", "Session", "login", None, "user", 5.0, "none", "self"),
    ("authorization", "Session", "logout", None, "user", 4.0, "none", "self"),
    ("authorization", "Session", "login_failed", None, "user", 0.8, "none", "self"),
    ("authorization", "Session", "lockout", None, "user", 0.05, "none", "system"),
    ("authorization", "User", "update", "name", "user", 0.3, "name", "user"),
    ("authorization", "User", "update", "email", "user", 0.2, "email", "user"),
    ("authorization", "User", "update", "phone", "user", 0.2, "phone", "user"),
    ("authorization", "User", "update", "role_group", "user", 0.2, "role", "user"),
    ("authorization", "User", "update", "is_active", "user", 0.1, "bool", "user"),
    ("authorization", "User", "update", "password", "user", 0.2, "redacted", "user"),
    ("authorization", "User", "create", "email", "user", 0.1, "email_new", "user"),
    ("authorization", "Role Group", "update", "permissions", "role_group", 0.05, "perms", "user"),
    ("authorization", "API Token", "create", "name", "api_token", 0.03, "name_new", "user"),
    ("authorization", "API Token", "delete", "name", "api_token", 0.01, "name_old", "user"),
    ("authorization", "Export", "create", "format", "export", 0.02, "export", "exporter"),
    ("billing", "Plan", "update", "plan", "organization", 0.02, "plan", "user"),
    ("billing", "Seats", "update", "full_time_seats", "organization", 0.04, "int", "user"),
    ("billing", "Seats", "update", "seasonal_seats", "organization", 0.02, "int", "user"),
    ("billing", "Seats", "update", "collaborator_seats", "organization", 0.02, "int", "user"),
    ("settings", "Search", "update", "criteria", "search", 0.6, "criteria", "user"),
    ("settings", "Search", "create", "name", "search", 0.2, "name_new", "user"),
    ("settings", "Shortcut", "update", "text", "shortcut", 0.6, "text", "user"),
    ("settings", "Shortcut", "create", "name", "shortcut", 0.2, "name_new", "user"),
    ("settings", "Shortcut", "delete", "name", "shortcut", 0.05, "name_old", "user"),
    ("settings", "Macro", "update", "text", "macro", 0.05, "text", "user"),
    ("settings", "Saved View", "create", "query", "saved_view", 0.02, "text", "user"),
    ("settings", "Business Rule", "update", "criteria", "business_rule", 0.8, "criteria", "user"),
    ("settings", "Business Rule", "update", "actions", "business_rule", 0.5, "actions", "user"),
    ("settings", "Business Rule", "update", "enabled", "business_rule", 0.3, "bool", "user"),
    # Not retention_days: a sealed change of it would set the purge's policy.
    ("settings", "Organisation", "update", "time_zone", "organization", 0.01, "tz", "user"),
    ("settings", "Workflow", "update", "enabled", "workflow", 0.02, "bool", "user"),
    ("settings", "Workflow", "update", "idle_days", "workflow", 0.02, "int", "user"),
    ("settings", "Support Access", "update", "enabled", "support_access", 0.1, "bool", "user"),
    (
        "settings",
        "Support Access",
        "update",
        "access_level",
        "support_access",
        0.05,
        "level",
        "user",
    ),
    ("work_session", "Work Session", "session_start", None, "user", 4.0, "none", "self"),
    ("work_session", "Work Session", "session_end", None, "user", 3.8, "none", "self"),
    ("work_session", "Work Session", "update", "status", "user", 8.0, "status", "self_or_lapse"),
    ("work_session", "Work Session", "update", "capacity", "user", 0.2, "int", "user"),
    ("work_session", "Work Session", "assign", "conversation", "user", 9.0, "assign", "router"),
    ("work_session", "Work Session", "unassign", "conversation", "user", 4.0, "unassign", "user"),
    (
        "conversation",
        "Conversation",
        "create",
        "subject",
        "conversation",
        6.0,
        "subject",
        "api_or_user",
    ),
    (
        "conversation",
        "Conversation",
        "update",
        "status",
        "conversation",
        10.0,
        "conv_status",
        "user_or_workflow",
    ),
    (
        "conversation",
        "Conversation",
        "update",
        "priority",
        "conversation",
        4.0,
        "priority",
        "rule_or_user",
    ),
    ("conversation", "Conversation", "update", "tags", "conversation", 3.0, "tags", "rule_or_user"),
    (
        "conversation",
        "Conversation",
        "update",
        "queue",
        "conversation",
        2.0,
        "queue",
        "rule_or_user",
    ),
    (
        "conversation",
        "Conversation",
        "update",
        "assigned_to",
        "conversation",
        6.0,
        "assignee",
        "router",
    ),
    ("customer", "Customer", "create", "name", "customer", 3.0, "name_new", "api_or_user"),
    ("customer", "Customer", "delete", "name", "customer", 0.1, "name_old", "user"),
    ("customer", "Customer", "update", "email", "customer", 2.0, "email", "api_or_user"),
    ("customer", "Customer", "update", "phone", "customer", 1.0, "phone", "api_or_user"),
    ("customer", "Customer", "update", "tags", "customer", 2.0, "tags", "api_or_user"),
    (
        "conversation",
        "Conversation",
        "delete",
        "subject",
        "conversation",
        0.1,
        "name_old",
        "user",
    ),
]

# Expressions over the generated row `g` (columns i, k, r, u, s) for each value shape.
# r is a uniform random in [0, 1); u a 1-based index into the organisation's users; s a subject number.
_VALUE_SQL: dict[str, tuple[str, str]] = {
    "none": ("NULL", "NULL"),
    "name": ("to_jsonb('Agent ' || s)", "to_jsonb('Agent ' || s || ' Smith')"),
    "name_new": ("NULL", "to_jsonb('Item ' || s)"),
    "name_old": ("to_jsonb('Item ' || s)", "NULL"),
    "export": ("NULL", "(ARRAY['\"csv\"','\"ndjson\"'])[1 + (s % 2)]::jsonb"),
    "email": ("to_jsonb('old' || s || '@example.com')", "to_jsonb('new' || s || '@example.com')"),
    "email_new": ("NULL", "to_jsonb('user' || s || '@example.com')"),
    "phone": (
        "to_jsonb('+1 555 01' || lpad((s % 100)::text, 2, '0'))",
        "to_jsonb('+1 555 02' || lpad((s % 100)::text, 2, '0'))",
    ),
    "role": ("'\"Agent\"'::jsonb", "'\"Administrator\"'::jsonb"),
    "bool": ("to_jsonb(r < 0.5)", "to_jsonb(r >= 0.5)"),
    "redacted": ("'\"[redacted]\"'::jsonb", "'\"[redacted]\"'::jsonb"),
    "perms": (
        "'[\"conversations.work\"]'::jsonb",
        '\'["audit.view", "conversations.work"]\'::jsonb',
    ),
    "plan": ("'\"Team\"'::jsonb", "'\"Business\"'::jsonb"),
    "int": ("to_jsonb((s % 20) + 1)", "to_jsonb((s % 20) + 2)"),
    "criteria": (
        "jsonb_build_object('match', 'all', 'conditions', jsonb_build_array("
        "jsonb_build_object('field', 'priority', 'operator', 'eq', 'value', (ARRAY['low','normal','high'])[1 + (s % 3)]),"
        "jsonb_build_object('field', 'tags', 'operator', 'contains', 'value', 'vip')))",
        "jsonb_build_object('match', 'all', 'conditions', jsonb_build_array("
        "jsonb_build_object('field', 'priority', 'operator', 'eq', 'value', (ARRAY['normal','high','urgent'])[1 + (s % 3)]),"
        "jsonb_build_object('field', 'tags', 'operator', 'contains', 'value', 'vip')))",
    ),
    "actions": (
        "jsonb_build_array(jsonb_build_object('type', 'set_priority', 'value', 'high'))",
        "jsonb_build_array(jsonb_build_object('type', 'set_priority', 'value', 'urgent'),"
        " jsonb_build_object('type', 'add_tag', 'value', 'escalated'))",
    ),
    "text": (
        "to_jsonb('Hello, thanks for writing in #' || s)",
        "to_jsonb('Hi! Thanks for contacting us #' || s)",
    ),
    "level": ("'\"read\"'::jsonb", "'\"full\"'::jsonb"),
    "tz": ("'\"UTC\"'::jsonb", "'\"Europe/London\"'::jsonb"),
    "status": (
        "CASE WHEN r < 0.5 THEN '\"Unavailable\"'::jsonb ELSE '\"Available\"'::jsonb END",
        "CASE WHEN r < 0.5 THEN '\"Available\"'::jsonb ELSE '\"Unavailable\"'::jsonb END",
    ),
    "assign": ("NULL", "to_jsonb('Conversation #' || s)"),
    "unassign": ("to_jsonb('Conversation #' || s)", "NULL"),
    "subject": ("NULL", "to_jsonb('Order ' || s || ' has not arrived')"),
    "conv_status": (
        "(ARRAY['\"open\"','\"snoozed\"','\"open\"'])[1 + (s % 3)]::jsonb",
        "(ARRAY['\"snoozed\"','\"done\"','\"done\"'])[1 + (s % 3)]::jsonb",
    ),
    "priority": ("'\"normal\"'::jsonb", "(ARRAY['\"high\"','\"urgent\"'])[1 + (s % 2)]::jsonb"),
    "tags": ("'[\"billing\"]'::jsonb", '\'["billing", "vip"]\'::jsonb'),
    "queue": ("'\"General\"'::jsonb", "'\"Priority\"'::jsonb"),
    "assignee": ("NULL", "to_jsonb(names[u])"),
}

# (actor_type, actor_id, actor_name, metadata) per actor mode.
_USER = ("'user'", "ids[u]::text", "names[u]", "'{}'::jsonb")
_ACTOR_SQL: dict[str, tuple[str, str, str, str]] = {
    "user": _USER,
    "self": _USER,
    "system": ("'system'", "NULL", "'System'", "jsonb_build_object('failures', 5)"),
    "exporter": (
        "'user'",
        "ids[u]::text",
        "names[u]",
        "jsonb_build_object('filters', jsonb_build_object('event_type', 'work_session'),"
        " 'delivery', CASE WHEN r < 0.5 THEN 'file' ELSE 'stream' END)",
    ),
    "router": (
        "'queue_router'",
        "NULL",
        "'Queue router'",
        "jsonb_build_object('load_before', s % 4, 'load_after', s % 4 + 1, 'capacity', 3,"
        " 'over_capacity', s % 4 + 1 > 3)",
    ),
    "self_or_lapse": (
        "CASE WHEN r < 0.2 THEN 'system' ELSE 'user' END",
        "CASE WHEN r < 0.2 THEN NULL ELSE ids[u]::text END",
        "CASE WHEN r < 0.2 THEN 'System' ELSE names[u] END",
        "CASE WHEN r < 0.2 THEN jsonb_build_object('reason', 'heartbeat_lapse',"
        " 'last_heartbeat', to_char(now(), 'YYYY-MM-DD\"T\"HH24:MI:SS')) ELSE '{}'::jsonb END",
    ),
    "api_or_user": (
        "CASE WHEN r < 0.3 THEN 'api' ELSE 'user' END",
        "CASE WHEN r < 0.3 THEN '1' ELSE ids[u]::text END",
        "CASE WHEN r < 0.3 THEN 'Zapier token' ELSE names[u] END",
        "'{}'::jsonb",
    ),
    "user_or_workflow": (
        "CASE WHEN r < 0.15 THEN 'workflow' ELSE 'user' END",
        "CASE WHEN r < 0.15 THEN '1' ELSE ids[u]::text END",
        "CASE WHEN r < 0.15 THEN 'Close idle conversations' ELSE names[u] END",
        "'{}'::jsonb",
    ),
    "rule_or_user": (
        "CASE WHEN r < 0.6 THEN 'business_rule' ELSE 'user' END",
        "CASE WHEN r < 0.6 THEN (1 + s % 5)::text ELSE ids[u]::text END",
        "CASE WHEN r < 0.6 THEN (ARRAY['VIP routing','Escalate urgent','Tag refunds','Billing queue',"
        "'Weekend triage'])[1 + s % 5] ELSE names[u] END",
        "'{}'::jsonb",
    ),
}


def _case(expressions: list[str]) -> str:
    return "CASE k " + " ".join(f"WHEN {n} THEN {e}" for n, e in enumerate(expressions, 1)) + " END"


def _select_sql() -> str:
    """One chunk of an organisation's generated rows, as a SELECT whose columns are named
    like the table's (the id drawn from the table's identity sequence)."""
    # Conversations and customers are many; users, settings objects and tokens are few.
    ids = {
        "user": "ids[u]::text",
        "organization": "NULL",
        "conversation": "s::text",
        "customer": "s::text",
        "export": "gen_random_uuid()::text",
    }
    names = {
        "user": "names[u]",
        "organization": "org_name",
        "conversation": "'Order ' || s || ' has not arrived'",
        "customer": "'Customer ' || s",
        "export": "CASE WHEN s % 2 = 0 THEN 'CSV export' ELSE 'NDJSON export' END",
    }
    subject_ids = [ids.get(kind[4], "(1 + s % 20)::text") for kind in KINDS]
    subject_names = [names.get(kind[4], f"'{kind[1]} ' || (1 + s % 20)") for kind in KINDS]
    subject_id, subject_name = _case(subject_ids), _case(subject_names)
    # A created (deleted) object's name is the subject's name after (before).
    before = _case(
        [
            f"to_jsonb({subject_names[n]})" if kind[6] == "name_old" else _VALUE_SQL[kind[6]][0]
            for n, kind in enumerate(KINDS)
        ]
    )
    after = _case(
        [
            f"to_jsonb({subject_names[n]})" if kind[6] == "name_new" else _VALUE_SQL[kind[6]][1]
            for n, kind in enumerate(KINDS)
        ]
    )
    actor = [_case([_ACTOR_SQL[kind[7]][n] for kind in KINDS]) for n in range(4)]
    # People's requests carry an IP (every session event, a share of the rest); automations none.
    has_ip = _case(
        [
            "true"
            if kind[1] == "Session"
            else ("r < 0.3" if kind[7] in ("user", "self") else "false")
            for kind in KINDS
        ]
    )
    session = "section_a[k] = 'Session'"

    def arr(n: int) -> str:
        return (
            "ARRAY["
            + ",".join("NULL" if kind[n] is None else f"'{kind[n]}'" for kind in KINDS)
            + "]::text[]"
        )

    # Modulo is written " % " above; psycopg needs it doubled next to its %(name)s placeholders.
    return f"""
    SELECT nextval(%(sequence)s::regclass) AS id,
        %(org_id)s::bigint AS org_id,
        %(start)s::timestamptz + (i::float8 / %(n)s::float8) * %(span)s::float8 * interval '1 second'
            AS occurred_at,
        type_a[k] AS event_type, action_a[k] AS action, section_a[k] AS section,
        property_a[k] AS property,
        {before} AS before, {after} AS after,
        {actor[0]} AS actor_type, {actor[1]} AS actor_id, {actor[2]} AS actor_name,
        subject_a[k] AS subject_type, {subject_id} AS subject_id, {subject_name} AS subject_name,
        gen_random_uuid() AS change_id,
        CASE WHEN {has_ip} THEN ('10.' || (u % 250) || '.' || (s % 250) || '.' || (1 + i % 250))::inet END
            AS ip_address,
        CASE WHEN {session} THEN 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0' END AS user_agent,
        NULL::text AS request_id,
        {actor[3]} AS metadata
    FROM
    (SELECT %(slots)s::int[] AS slots, %(ids)s::bigint[] AS ids, %(names)s::text[] AS names,
            %(org_name)s::text AS org_name,
            {arr(0)} AS type_a, {arr(2)} AS action_a, {arr(1)} AS section_a,
            {arr(3)} AS property_a, {arr(4)} AS subject_a) meta,
    LATERAL (
        SELECT i, slots[1 + floor(random() * array_length(slots, 1))::int] AS k, random() AS r,
               1 + floor(random() * %(users)s::int)::int AS u, 1 + floor(random() * %(subjects)s::int)::int AS s
        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i
    ) g
    """.replace(" % ", " %% ")


def _slots() -> list[int]:
    """1,000 slots holding kind numbers in proportion to their weights: a random slot is a weighted pick."""
    total = sum(kind[5] for kind in KINDS)
    slots: list[int] = []
    for n, kind in enumerate(KINDS, 1):
        slots.extend([n] * max(1, round(kind[5] / total * 1000)))
    return slots


def _owner_conninfo() -> dict[str, Any]:
    """Plain connections as the schema's owner (DATABASE_OWNER_URL, Django's "owner" alias),
    not the application's login: loading rows, index DDL and ANALYZE are the owner's."""
    db = connections[owner_db()].settings_dict
    return {
        "dbname": db["NAME"],
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
        "host": db["HOST"] or None,
        "port": db["PORT"] or None,
    }


def missing_sections() -> list[str]:
    """Catalog sections (and actions) no generated kind covers: the loader must keep up."""
    have = {(kind[0], kind[1], kind[2]) for kind in KINDS}
    sections = {(kind[0], kind[1]) for kind in KINDS}
    missing = [
        f"{section.event_type}/{section.name}"
        for section in catalog.sections()
        if (section.event_type, section.name) not in sections
    ]
    actions = {action for section in catalog.sections() for action in section.actions}
    missing += [f"action {action}" for action in sorted(actions - {kind[2] for kind in KINDS})]
    return missing + [
        f"{kind[0]}/{kind[1]}: unknown section"
        for kind in have
        if kind[1] not in catalog.section_names()
    ]


def months_between(start: date, end: date) -> list[date]:
    """First days of every UTC month from start's to end's, inclusive."""
    months, month = [], date(start.year, start.month, 1)
    while month <= end:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def ensure_partitions(conninfo: dict[str, Any], start: datetime, end: datetime) -> list[str]:
    """Create the monthly partitions the rows will land in (no-op on an unpartitioned table)."""
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        if (
            conn.execute("SELECT to_regprocedure('audit_ensure_partition(date)')").fetchone()[0]
            is None
        ):
            return []
        return [
            conn.execute("SELECT audit_ensure_partition(%s)", (month,)).fetchone()[0]
            for month in months_between(start.astimezone(UTC).date(), end.astimezone(UTC).date())
        ]


def org_sizes(rows: int, orgs: int) -> list[int]:
    """A few large organisations and a long tail of small ones (Zipf, s = 1.1)."""
    weights = [1 / (rank**1.1) for rank in range(1, orgs + 1)]
    total = sum(weights)
    sizes = [int(rows * w / total) for w in weights]
    sizes[0] += rows - sum(sizes)
    return sizes


# --------------------------------------------------------------------------- rows with MACs
#
# Every row carries the MAC the application would have written (auditlog/mac.py), or sealing
# would name it forged. The rows are still generated inside PostgreSQL; each loader process
# reads one chunk back (COPY TO, the columns exactly as sealing reads them: mac.SELECT_COLUMNS),
# computes every row's MAC with mac.row_mac on those values, and writes the same COPY lines
# plus the MAC straight into the month's partition (COPY FROM). The owner owns the partitions
# and their row-level security is not forced, so the owner's COPY is admitted there, where the
# parent table (forced) refuses COPY; --stage goes through a temporary table and an INSERT
# into the parent instead (row-level security checked, slower).

_COPY_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ESCAPE = re.compile(r"\\(.)")
_MAC_FIELDS = len(storage.COLUMNS)
_worker: dict[str, Any] = {}


def _unescape(value: str) -> str:
    return _COPY_ESCAPE.sub(lambda m: _COPY_ESCAPES.get(m[1], m[1]), value)


def _copy_values(line: bytes) -> list[str | None]:
    """A line of COPY's text format (no newline) as the values it stands for."""
    return [
        None if value == "\\N" else (_unescape(value) if "\\" in value else value)
        for value in line.decode().split("\t")
    ]


def _copy_out_sql() -> str:
    return f"COPY (SELECT e.id, {mac.SELECT_COLUMNS} FROM ({_select_sql()}) e) TO STDOUT"


def _init_worker(conninfo: dict[str, Any], key: bytes, stage: bool) -> None:
    _worker.update(conninfo=conninfo, key=key, stage=stage, copy_out=_copy_out_sql())


def _load_chunk(job: dict[str, Any]) -> int:
    """Generate one chunk, MAC every row, write it; returns the rows written."""
    conninfo, key, stage = _worker["conninfo"], _worker["key"], _worker["stage"]
    columns = ", ".join(("id", *storage.COLUMNS, storage.MAC_COLUMN))
    written = 0
    with (
        psycopg.connect(**conninfo, autocommit=True) as source,
        psycopg.connect(**conninfo) as target,
        contextlib.ExitStack() as writing,
    ):
        # Timestamps come out in UTC, so a line's month is its partition's.
        source.execute("SET TimeZone = 'UTC'")
        target.execute("SET synchronous_commit = off")
        if stage:
            target.execute(
                "CREATE TEMP TABLE bench_stage (LIKE auditlog_auditevent) ON COMMIT DROP"
            )
        into, month, pending = None, "", []
        with source.cursor().copy(_worker["copy_out"], job) as rows:
            for data in rows:
                line = bytes(data)[:-1]
                values = _copy_values(line)
                digest = mac.row_mac(values[1 : _MAC_FIELDS + 1], key)
                if values[2][:7] != month and not (stage and into is not None):
                    if into is not None:
                        into.write(b"".join(pending))
                        pending.clear()
                        writing.close()
                    month = values[2][:7]
                    table = "bench_stage" if stage else _partition_name(month)
                    into = writing.enter_context(
                        target.cursor().copy(f"COPY {table} ({columns}) FROM STDIN")
                    )
                pending.append(line + b"\t\\\\x" + digest.hex().encode() + b"\n")
                if len(pending) >= 2000:
                    into.write(b"".join(pending))
                    pending.clear()
                written += 1
            if into is not None:
                into.write(b"".join(pending))
                writing.close()
        if stage:
            # Row-level security admits the session's organisation's rows only.
            target.execute("SELECT set_config('app.org_id', %s, true)", (str(job["org_id"]),))
            target.execute(
                f"INSERT INTO auditlog_auditevent ({columns}) SELECT {columns} FROM bench_stage"
            )
        target.commit()
    return written


def _partition_name(month: str) -> str:
    """'2026-11' -> the month's partition (audit_ensure_partition's naming)."""
    return f"auditlog_auditevent_p{month[:4]}{month[5:7]}"


class Command(BaseCommand):
    help = (
        "Load N generated audit rows across M organisations over D days (benchmark databases only)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--orgs", type=int, default=50)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--jobs", type=int, default=2, help="indexes rebuilt at once")
        parser.add_argument(
            "--loaders",
            type=int,
            default=(os.cpu_count() or 1) + 1,
            help="loader processes (default: one per CPU, plus one to fill the gaps while "
            "each waits for PostgreSQL)",
        )
        parser.add_argument(
            "--stage",
            action="store_true",
            help="write through a temporary table and the parent table (row-level security "
            "checked) instead of COPY straight into the monthly partitions",
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="maintain indexes during the load instead of rebuilding them after",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for name in {connection.settings_dict["NAME"], _owner_conninfo()["dbname"]}:
            if "bench" not in name:
                raise CommandError(
                    f"Refusing to load benchmark rows into {name!r}: use a *bench* database."
                )
        rows, orgs, days = options["rows"], options["orgs"], options["days"]
        if rows < orgs or orgs < 1 or days < 1:
            raise CommandError("Need --orgs >= 1, --days >= 1 and --rows >= --orgs.")
        missing = missing_sections()
        if missing:
            raise CommandError(
                "load_bench_events does not generate: " + ", ".join(missing) + " (add to KINDS)."
            )
        random.seed(options["seed"])
        started = time.monotonic()

        sizes = org_sizes(rows, orgs)
        plans = [self._organization(n, size) for n, size in enumerate(sizes, 1)]
        index_names = [] if options["keep_indexes"] else self._drop_indexes(_owner_conninfo())

        end = timezone.now()
        span = timedelta(days=days).total_seconds()
        start = end - timedelta(days=days)
        slots = _slots()
        conninfo = _owner_conninfo()
        if not ensure_partitions(conninfo, start, end) and not options["stage"]:
            raise CommandError("auditlog_auditevent is not partitioned here: use --stage.")
        with psycopg.connect(**conninfo) as conn:
            sequence = conn.execute(
                "SELECT pg_get_serial_sequence('auditlog_auditevent', 'id')"
            ).fetchone()[0]
        jobs = []
        for org, users, size in plans:
            for lo in range(1, size + 1, CHUNK):
                jobs.append(
                    {
                        "sequence": sequence,
                        "org_id": org.pk,
                        "org_name": org.name,
                        "start": start,
                        "span": span,
                        "n": size,
                        "lo": lo,
                        "hi": min(size, lo + CHUNK - 1),
                        "users": len(users),
                        "ids": [pk for pk, _ in users],
                        "names": [name for _, name in users],
                        "subjects": max(10, size // 20),
                        "slots": slots,
                    }
                )

        # Loader processes (forked: computing MACs is Python's work, one core per process);
        # Django's connections are closed first, the children open their own.
        connections.close_all()
        loading = time.monotonic()
        forking = multiprocessing.get_context("fork")
        with forking.Pool(
            max(1, options["loaders"]),
            initializer=_init_worker,
            initargs=(conninfo, mac._key(), options["stage"]),
        ) as pool:
            with tqdm(total=rows, unit="rows", unit_scale=True, desc="audit rows") as bar:
                for done in pool.imap_unordered(_load_chunk, jobs):
                    bar.update(done)
        timings = {"rows with MACs": time.monotonic() - loading}
        phase = time.monotonic()
        if index_names:
            self._rebuild_indexes(index_names, conninfo, options["jobs"])
            timings["indexes"] = time.monotonic() - phase
            phase = time.monotonic()
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            # VACUUM too, as autovacuum does in time to an insert-only table: the visibility
            # map lets counts (the volume strip) use index-only scans, as in production.
            conn.execute("VACUUM (ANALYZE) auditlog_auditevent")
        timings["vacuum"] = time.monotonic() - phase
        phase = time.monotonic()
        # The finished days' counts, as the beat job keeps them (the volume strip reads them).
        for org, _users, _size in tqdm(plans, desc="day counts", unit="org"):
            daycounts.roll_up(org_id=org.pk)
        timings["day counts"] = time.monotonic() - phase
        self.stdout.write(
            f"Loaded {rows:,} rows into {orgs} organisations over {days} days "
            f"in {time.monotonic() - started:.0f} s (largest {sizes[0]:,}, smallest {sizes[-1]:,}; "
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
            + ")."
        )

    def _organization(self, n: int, size: int) -> tuple[Organization, list[tuple[int, str]], int]:
        """The n-th bench organisation (created through the services) and its users."""
        email = f"admin@bench{n:03d}.test"
        org = Organization.objects.filter(slug=f"bench-org-{n:03d}").first()
        if org is None:
            org = organization_create(
                name=f"Bench Org {n:03d}",
                admin_email=email,
                admin_password=BENCH_PASSWORD,
                admin_name=f"Bench Admin {n:03d}",
            )
        with tenant(org):
            wanted = max(3, min(40, math.ceil(size / 50_000)))
            have = User.objects.count()
            for extra in range(have, wanted):
                # No password: an unusable one, so creating hundreds of users costs no hashing.
                user_create(
                    email=f"agent{extra}@bench{n:03d}.test",
                    password=None,
                    name=f"Agent {n:03d}-{extra}",
                )
            users = list(User.objects.order_by("pk").values_list("pk", "name"))
        return org, users, size

    def _drop_indexes(self, conninfo: dict[str, Any]) -> list[str]:
        names = [index.name for index in AuditEvent._meta.indexes]
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            for index_name in names:
                conn.execute(f'DROP INDEX IF EXISTS "{index_name}"')
        return names

    def _rebuild_indexes(self, names: list[str], conninfo: dict[str, Any], jobs: int) -> None:
        """Rebuild on `jobs` connections at once: the trigram GIN (not parallel in PostgreSQL 15)
        builds alongside the B-trees instead of after them."""
        indexes = [index for index in AuditEvent._meta.indexes if index.name in names]
        with connection.schema_editor(collect_sql=True) as editor:
            statements = [str(index.create_sql(AuditEvent, editor)) for index in indexes]
        # Longest first (the GIN), so the others fill the remaining connections around it.
        statements.sort(key=lambda sql: "USING gin" not in sql)

        def build(statement: str) -> str:
            with psycopg.connect(**conninfo, autocommit=True) as conn:
                conn.execute("SET maintenance_work_mem = '1GB'")
                conn.execute(statement)
            return statement

        with (
            tqdm(total=len(statements), desc="rebuilding indexes", unit="index") as bar,
            ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
        ):
            for _ in pool.map(build, statements):
                bar.update(1)
