"""Synthetic audit rows generated inside PostgreSQL, for export volume tests and benchmarks only.

The one sanctioned exception to "only the recorder writes audit rows": a million rows
through the recorder would take minutes, and these tests measure reading, not writing.
`INSERT … SELECT … FROM generate_series` builds every row in the database (no Python loop),
with a mix of sections, performers, JSON values and awkward text (commas, quotes,
newlines, non-ASCII) so the exports are exercised on realistic bytes.
"""

from datetime import datetime
from typing import Any

# Values chosen per row by `n % len(...)`; kept as SQL literals so the database does the work.
_SUBJECT_NAMES = (
    "Ann Agent",
    'Refund, "urgent" queue',
    "Multi\nline subject",
    "Zoë Ørsted – 東京",
    "Back\\slash and tab\tchar",
)
_SECTIONS = (
    ("authorization", "Session", "login", None, "user"),
    ("authorization", "User", "update", "email", "user"),
    ("settings", "Business Rule", "update", "criteria", "business_rule"),
    ("work_session", "Work Session", "update", "status", "user"),
    ("conversation", "Conversation", "update", "priority", "conversation"),
    ("customer", "Customer", "update", "name", "customer"),
    ("billing", "Seats", "update", "full_time_seats", "organization"),
)
_ACTORS = (
    ("user", "1", "Ann Admin"),
    ("system", None, "System"),
    ("business_rule", "7", "VIP routing"),
    ("queue_router", None, "Queue router"),
    ("api", "3", 'Zapier, "prod" token'),
    ("workflow", "2", "Close idle conversations"),
)


def _array(values: tuple[Any, ...]) -> str:
    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        return "'" + str(value).replace("'", "''") + "'"

    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::text[]"


def insert_synthetic_events(
    cursor: Any, *, org_id: int, count: int, newest: datetime, step_ms: int = 10, first: int = 0
) -> None:
    """Insert `count` rows for `org_id`, one every `step_ms` going back from `newest`.

    `cursor` is a DB-API cursor (Django's or psycopg's) on the target database.
    """
    names = _array(_SUBJECT_NAMES)
    event_types = _array(tuple(s[0] for s in _SECTIONS))
    sections = _array(tuple(s[1] for s in _SECTIONS))
    actions = _array(tuple(s[2] for s in _SECTIONS))
    properties = _array(tuple(s[3] for s in _SECTIONS))
    subject_types = _array(tuple(s[4] for s in _SECTIONS))
    actor_types = _array(tuple(a[0] for a in _ACTORS))
    actor_ids = _array(tuple(a[1] for a in _ACTORS))
    actor_names = _array(tuple(a[2] for a in _ACTORS))
    cursor.execute(
        f"""
        INSERT INTO auditlog_auditevent (
            org_id, occurred_at, event_type, action, section, property, before, after,
            actor_type, actor_id, actor_name, subject_type, subject_id, subject_name,
            change_id, ip_address, user_agent, request_id, metadata)
        SELECT
            %(org_id)s,
            %(newest)s::timestamptz - make_interval(secs => (n * %(step_ms)s) / 1000.0),
            c.event_types[1 + n %% 7],
            c.actions[1 + n %% 7],
            c.sections[1 + n %% 7],
            c.properties[1 + n %% 7],
            CASE WHEN n %% 3 = 0 THEN NULL
                 WHEN n %% 3 = 1 THEN c.json_names[1 + n %% 5]
                 ELSE c.criteria
            END,
            CASE WHEN n %% 2 = 0 THEN c.json_names[1 + (n + 1) %% 5] ELSE to_jsonb(n) END,
            c.actor_types[1 + n %% 6],
            c.actor_ids[1 + n %% 6],
            c.actor_names[1 + n %% 6],
            c.subject_types[1 + n %% 7],
            (n %% 5000)::text,
            c.names[1 + n %% 5],
            md5(n::text)::uuid,
            CASE WHEN n %% 4 = 0 THEN NULL ELSE ('198.51.100.' || (n %% 250))::inet END,
            'Mozilla/5.0 (synthetic; "bench")',
            md5((n + 1)::text),
            jsonb_build_object('n', n, 'note', c.names[1 + (n + 2) %% 5])
        FROM generate_series(%(first)s, %(last)s) AS n
        -- The constant arrays are built once, not once per row.
        CROSS JOIN (
            SELECT
                {names} AS names,
                ARRAY(SELECT to_jsonb(x) FROM unnest({names}) AS x) AS json_names,
                {event_types} AS event_types,
                {actions} AS actions,
                {sections} AS sections,
                {properties} AS properties,
                {subject_types} AS subject_types,
                {actor_types} AS actor_types,
                {actor_ids} AS actor_ids,
                {actor_names} AS actor_names,
                jsonb_build_object('all', jsonb_build_array(jsonb_build_object(
                    'field', 'tags', 'op', 'contains', 'value', 'vip'))) AS criteria
            OFFSET 0
        ) AS c
        """,
        {
            "org_id": org_id,
            "newest": newest,
            "step_ms": step_ms,
            "first": first,
            "last": first + count - 1,
        },
    )
