"""The search language (SPEC §8.5): a query of qualifiers finds exactly the events its
equivalent filter parameters find, `-qualifier` finds the complement within the range, and
mistakes are a 400 naming the qualifier. Property-based (hypothesis) over a varied log made
through the recorder."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_read import query
from audit_read.query import QueryError, Term, parse, unparse
from audit_read.selectors import audit_events_page
from auditlog.models import AuditEvent
from auditlog.recorder import record
from core import context
from core.context import Actor

BASE = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
DAYS = 10
ACTORS = [
    Actor("user", "7", "Ada Admin"),
    Actor("user", "8", "Bob Builder"),
    Actor("system", None, "System"),
    Actor("api", "3", "SIEM token"),
    Actor("business_rule", "5", "VIP routing"),
]
IPS = ["203.0.113.5", "203.0.113.77", "198.51.100.7", None]
EVENTS = [  # section, action, property, subject_type
    ("Shortcut", "create", "name", "shortcut"),
    ("Shortcut", "update", "text", "shortcut"),
    ("Business Rule", "update", "criteria", "business_rule"),
    ("Search", "delete", "name", "search"),
    ("Plan", "update", "plan", "organization"),
    ("Customer", "update", "email", "customer"),
    ("Conversation", "assign", "assigned_to", "conversation"),
    ("Session", "login", None, "user"),
    ("User", "update", "email", "user"),
]


@pytest.fixture
def log(org):
    """About a hundred events over ten days: every combination the strategies draw from."""
    n = 0
    for day in range(DAYS):
        for k, (section, action, prop, subject_type) in enumerate(EVENTS):
            n += 1
            actor = ACTORS[(day + k) % len(ACTORS)]
            ip = IPS[(day * 3 + k) % len(IPS)]
            with context.use(org_id=org.pk, actor=actor, ip_address=ip):
                record(
                    section=section,
                    action=action,
                    property=prop,
                    before="old" if action != "create" else None,
                    after=f"value {n}",
                    subject_type=subject_type,
                    subject_id=str(1 + (n % 4)),
                    subject_name=f"Object {n % 4}",
                    occurred_at=BASE + timedelta(days=day, minutes=k),
                )
    return org


def ids(org, params, page_size=13, order="desc"):
    """Every id the selector pages through for these parameters (the page's and API's path)."""
    found, cursor = [], None
    while True:
        result = audit_events_page(
            org, params, cursor=cursor, size_params={"page_size": page_size}, order=order
        )
        assert not result.errors, result.errors
        found += [event.pk for event in result.page.items]
        cursor = result.page.next_cursor
        if cursor is None:
            return found


RANGE = {"start": "2026-11-01", "end": "2026-11-30"}
# A filter parameter and the qualifier saying the same.
PAIRS = {
    "type": st.sampled_from(["settings", "billing", "customer", "authorization"]).map(
        lambda v: ({"event_type": v}, f"type:{v}")
    ),
    "action": st.sampled_from(["create", "update", "delete", "assign", "login"]).map(
        lambda v: ({"action": v}, f"action:{v}")
    ),
    "section": st.sampled_from(["Shortcut", "Business Rule", "Plan", "Session"]).map(
        lambda v: ({"section": v}, f'section:"{v}"')
    ),
    "property": st.sampled_from(["name", "text", "email"]).map(
        lambda v: ({"property": v}, f"property:{v}")
    ),
    "actor_type": st.sampled_from(["user", "system", "api", "business_rule"]).map(
        lambda v: ({"actor_type": v}, f"actor_type:{v}")
    ),
    "actor": st.sampled_from([("user", "7"), ("api", "3"), ("business_rule", "5")]).map(
        lambda a: ({"actor_type": a[0], "performed_by": a[1]}, f"actor:{a[0]}:{a[1]}")
    ),
    "ip": st.sampled_from(IPS[:3]).map(lambda v: ({"ip": v}, f"ip:{v}")),
    "subject": st.sampled_from([("shortcut", "2"), ("user", "3"), ("customer", "1")]).map(
        lambda s: ({"subject_type": s[0], "subject_id": s[1]}, f"subject:{s[0]}:{s[1]}")
    ),
    "created": st.tuples(st.integers(0, 9), st.integers(0, 4)).map(
        lambda d: (
            {
                "start": (BASE + timedelta(days=d[0])).date().isoformat(),
                "end": (BASE + timedelta(days=d[0] + d[1])).date().isoformat(),
            },
            f"created:{(BASE + timedelta(days=d[0])).date()}..{(BASE + timedelta(days=d[0] + d[1])).date()}",
        )
    ),
}
QUALIFIERS_SAYING_SAME = st.lists(
    st.sampled_from(sorted(PAIRS)), min_size=1, max_size=3, unique=True
).filter(lambda names: not {"actor", "actor_type"} <= set(names))

HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(names=QUALIFIERS_SAYING_SAME, data=st.data())
def test_a_query_finds_exactly_what_its_filters_find(log, names, data):
    params, words = {}, []
    for name in names:
        filter_params, qualifier = data.draw(PAIRS[name], label=name)
        params |= filter_params
        words.append(qualifier)
    base = {**RANGE, **params} if "created" not in names else params
    by_query = {**(RANGE if "created" not in names else {}), "q": " ".join(words)}
    newest_first = ids(log, base)
    assert ids(log, by_query) == newest_first
    # Oldest first too: the same events in reverse, by query as by parameters.
    assert ids(log, by_query, order="asc") == ids(log, base, order="asc") == newest_first[::-1]


NEGATIONS = {
    "type": ("settings", lambda e: e.event_type == "settings"),
    "action": ("update", lambda e: e.action == "update"),
    "section": ('"Business Rule"', lambda e: e.section == "Business Rule"),
    "actor_type": ("system", lambda e: e.actor_type == "system"),
    "actor": ("user:7", lambda e: (e.actor_type, e.actor_id) == ("user", "7")),
    "ip": ("203.0.113.0/24", lambda e: (e.ip_address or "").startswith("203.0.113.")),
    "property": ("email", lambda e: e.property == "email"),
    "subject": ("shortcut:2", lambda e: (e.subject_type, e.subject_id) == ("shortcut", "2")),
}


@pytest.mark.parametrize("name", sorted(NEGATIONS))
def test_a_negated_qualifier_finds_the_complement_within_the_range(log, name):
    value, matches = NEGATIONS[name]
    within = ids(log, RANGE)
    positive = ids(log, {**RANGE, "q": f"{name}:{value}"})
    negative = ids(log, {**RANGE, "q": f"-{name}:{value}"})
    assert positive and negative
    assert sorted(positive + negative) == sorted(within)
    assert not set(positive) & set(negative)
    events = {e.pk: e for e in AuditEvent.objects.for_org(log.pk)}
    assert all(matches(events[pk]) for pk in positive)
    assert not any(matches(events[pk]) for pk in negative)


def test_free_text_and_qualifiers_together(log):
    found = ids(log, {**RANGE, "q": 'type:settings "value 1"'})
    events = AuditEvent.objects.for_org(log.pk).in_bulk(found)
    assert found and all(
        e.event_type == "settings" and "value 1" in str(e.after) for e in events.values()
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour:red", "Unknown qualifier colour:; use one of: actor:, actor_type:, type:"),
        ("type:", "type: needs a value"),
        ("type:bogus", "type:bogus is not a event type; use one of: authorization"),
        ('section:"Business Rule', "A quote in section: is not closed."),
        ("ip:999.1.1.1", "ip:999.1.1.1 is not an address or CIDR range."),
        ("created:yesterday", "created: 'yesterday' is not a date"),
        ("-created:2026-11-01", "created: cannot be negated"),
        ("subject:user", "subject:user needs TYPE:ID"),
        ("actor:user:abc", "the id after user: must be a number"),
        ("type:settings action:update action:delete", "action: is given twice"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_qualifier(org, admin_client, text, message):
    page = admin_client.get("/settings/security/audit-log/", {"q": text})
    assert page.status_code == 400
    api = admin_client.get("/api/v1/audit-events/", {"q": text})
    assert api.status_code == 400
    assert message in api.content.decode().replace("\\u2019", "'"), api.content.decode()


def test_a_qualifier_contradicting_a_parameter_is_refused(org, admin_client):
    api = admin_client.get("/api/v1/audit-events/", {"q": "type:billing", "event_type": "settings"})
    assert api.status_code == 400
    assert "contradicts the event_type parameter" in api.content.decode()


def test_actor_by_email_and_by_name(log, admin):
    from accounts.models import User

    user = User.objects.get(pk=admin.pk)
    with context.use(org_id=log.pk, actor=Actor.for_user(user)):
        record(section="Plan", action="update", property="plan", before="a", after="b")
    by_email = ids(log, {"q": f"actor:{user.email}"})
    assert by_email == ids(log, {"actor_type": "user", "performed_by": str(user.pk)})
    assert len(by_email) == 1
    by_name = ids(log, {**RANGE, "q": 'actor:"bob builder"'})
    events = AuditEvent.objects.for_org(log.pk).in_bulk(by_name)
    assert by_name and {e.actor_name for e in events.values()} == {"Bob Builder"}
    assert ids(log, {"q": "actor:nobody@acme.test"}) == []


def test_created_ranges(log):
    day = lambda n: (BASE + timedelta(days=n)).date().isoformat()  # noqa: E731
    assert ids(log, {"q": f"created:>={day(5)}"}) == ids(log, {"start": day(5)})
    assert ids(log, {"q": f"created:<{day(5)}"}) == ids(log, {"end": day(4)})
    assert ids(log, {"q": f"created:>{day(5)}"}) == ids(log, {"start": day(6)})
    assert ids(log, {"q": f"created:{day(3)}"}) == ids(log, {"start": day(3), "end": day(3)})


TERMS = st.lists(
    st.builds(
        Term,
        st.sampled_from([None, *query.QUALIFIERS]),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
        st.booleans(),
    ).filter(lambda t: t.qualifier is not None or not t.negated),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(TERMS)
def test_parse_reads_back_what_unparse_writes(terms):
    terms = [t for t in terms if t.value.strip() or t.qualifier]
    assert parse(unparse(terms)) == terms


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_never_fails_except_with_a_query_error(text):
    try:
        parse(text)
    except QueryError as problem:
        assert problem.message


@pytest.mark.parametrize(
    ("q", "params"),
    [
        (
            "type:settings actor:user:7",
            {"event_type": "settings", "actor_type": "user", "performed_by": "7"},
        ),
        (
            'section:"Business Rule" property:criteria',
            {"section": "Business Rule", "property": "criteria"},
        ),
        (
            "kind:shortcut created:2026-11-01..2026-11-05",
            {"kind": "shortcut", "start": "2026-11-01", "end": "2026-11-05"},
        ),
        ("ip:203.0.113.5 type:authorization", {"ip": "203.0.113.5", "event_type": "authorization"}),
    ],
)
def test_a_query_runs_the_very_sql_of_its_filters(org, q, params):
    """Positive qualifiers become the filter parameters: the same SQL, so the same indexes,
    ids-first reads and scan bounds as the parameters (no plan of its own to go wrong)."""
    from audit_read import filters

    by_query, errors = filters.filter_events(org, {"q": q})
    assert not errors
    by_params, _ = filters.filter_events(org, params)
    assert str(by_query.query) == str(by_params.query)
    assert filters.ids_first({"q": q}, org) == filters.ids_first(params)
    assert (filters.scan_base(org, {"q": q}) is None) == (filters.scan_base(org, params) is None)


def test_negations_and_ranges_add_conditions_to_the_indexed_query(org):
    from django.db import connection

    from audit_read import filters

    queryset, errors = filters.filter_events(
        org,
        {
            "q": '-actor_type:system section:"Business Rule" ip:203.0.113.0/24',
            "start": "2026-11-01",
        },
    )
    assert not errors
    sql = str(queryset.query)
    assert '"auditlog_auditevent"."section" = Business Rule' in sql
    assert "NOT (" in sql and "<<= 203.0.113.0/24::cidr" in sql
    # The organisation and time bound the scan as with parameters; a plan walks an index.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql_text, sql_params = queryset.order_by("-occurred_at", "-id")[:50].query.sql_with_params()
        cursor.execute("EXPLAIN " + sql_text, sql_params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index" in plan and "Seq Scan on auditlog_auditevent" not in plan, plan
