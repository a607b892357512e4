"""A subject or performer filter with an event type, and the Kind filter, page their ids first
(an index-only scan of the index that carries the event type or the subject type), then read
only those rows: the same pages as reading rows straight away, forward and back."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit_read import filters, paging
from auditlog.recorder import record
from core.context import Actor
from core.tenancy import tenant

BASE = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture
def mixed(org, admin, agent):
    """Sign-ins about and settings changes by two users, two events to a timestamp, across a
    month boundary (two partitions)."""
    with transaction.atomic():
        for i in range(60):
            user = admin if i % 3 else agent
            moment = BASE - timedelta(days=1) + timedelta(hours=i // 2)
            if i % 2:
                record(
                    section="Session",
                    action="login",
                    subject_id=user.pk,
                    subject_name=user.name,
                    actor=Actor.for_user(user),
                    occurred_at=moment,
                )
            else:
                record(
                    section="Shortcut",
                    action="create",
                    subject_id=str(1000 + i),
                    subject_name=f"Shortcut {i}",
                    after={"name": f"Shortcut {i}"},
                    actor=Actor.for_user(user),
                    occurred_at=moment,
                )
    return org


def _walk(org, params, *, ids_first, size=4):
    queryset, errors = filters.filter_events(org, params)
    assert not errors
    key = filters.filters_key(org, params)
    pages, cursor = [], None
    while True:
        page = paging.keyset_page(queryset, cursor, size, key, ids_first=ids_first)
        pages.append([event.pk for event in page.items])
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    back = []
    while page.previous_cursor:
        page = paging.keyset_page(queryset, page.previous_cursor, size, key, ids_first=ids_first)
        back.append([event.pk for event in page.items])
    return pages, back


def test_filters_that_page_ids_first(admin):
    assert filters.ids_first({"event_type": "settings", "performed_by": str(admin.pk)})
    assert filters.ids_first({"user": str(admin.pk), "start": "2025-01-01"})
    assert filters.ids_first({"event_type": "conversation", "subject_id": "7"})
    # The Kind filter: the type index carries the subject type, the performer index both.
    assert filters.ids_first({"event_type": "settings", "kind": "support_access"})
    assert filters.ids_first({"kind": "shortcut", "start": "2025-01-01"})
    assert filters.ids_first({"kind": "shortcut", "performed_by": str(admin.pk)})
    assert filters.ids_first({"event_type": "settings", "subject_type": "shortcut"})
    # No event type to test, or a filter the index does not hold: rows straight away.
    assert not filters.ids_first({"performed_by": str(admin.pk)})
    assert not filters.ids_first({"event_type": "settings"})
    assert not filters.ids_first(
        {"event_type": "settings", "performed_by": "1", "action": "create"}
    )
    assert not filters.ids_first({"user": "1", "q": "x"})
    assert not filters.ids_first({"subject_type": "shortcut"})
    assert not filters.ids_first({"kind": "shortcut", "ip": "10.0.0.1"})


@pytest.mark.parametrize(
    "params",
    [
        {"event_type": "settings", "performed_by": "ADMIN"},
        {"event_type": "authorization", "user": "ADMIN"},
        {"event_type": "settings,authorization", "performed_by": "AGENT"},
        {"event_type": "settings", "subject_id": "1010"},
        {"event_type": "settings", "kind": "shortcut"},
        {"kind": "shortcut", "performed_by": "AGENT"},
        {"event_type": "settings", "subject_type": "shortcut"},
    ],
)
def test_ids_first_pages_equal_reading_rows(mixed, admin, agent, params):
    params = {
        name: {"ADMIN": str(admin.pk), "AGENT": str(agent.pk)}.get(value, value)
        for name, value in params.items()
    }
    assert filters.ids_first(params)
    direct = _walk(mixed, params, ids_first=False)
    by_ids = _walk(mixed, params, ids_first=True)
    assert by_ids == direct
    assert sum(len(page) for page in direct[0]) > 0


def test_ids_first_reads_keys_from_the_index_then_rows_by_id(mixed, admin):
    params = {"event_type": "settings", "performed_by": str(admin.pk)}
    queryset, _ = filters.filter_events(mixed, params)
    with CaptureQueriesContext(connection) as queries:
        page = paging.keyset_page(queryset, None, 5, "k", ids_first=True)
    events = [q["sql"] for q in queries.captured_queries if "auditlog_auditevent" in q["sql"]]
    assert len(events) == 2
    keys, rows = events
    assert keys.startswith(
        'SELECT "auditlog_auditevent"."occurred_at" AS "occurred_at", '
        '"auditlog_auditevent"."id" AS "id", "auditlog_auditevent"."org_id" AS "org_id" FROM'
    )
    assert '"auditlog_auditevent"."id" IN (' in rows
    assert len(page.items) == 5
    assert all(e.event_type == "settings" and e.actor_id == str(admin.pk) for e in page.items)


def test_ids_first_never_reads_another_organisations_rows(mixed, other_org, admin):
    with tenant(other_org):
        record(section="Shortcut", action="create", subject_id="1010", subject_name="Theirs")
    params = {"event_type": "settings", "subject_id": "1010"}
    queryset, _ = filters.filter_events(mixed, params)
    page = paging.keyset_page(queryset, None, 10, "k", ids_first=True)
    assert [event.org_id for event in page.items] == [mixed.pk]
