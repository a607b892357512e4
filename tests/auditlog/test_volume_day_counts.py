"""Finished days are counted once (auditlog/daycounts.py) and the volume strip sums those counts
for the filters they answer: the same figures as counting events, without counting them."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from auditlog import daycounts, integrity, retention
from auditlog.models import AuditEventDayCount, AuditEventDayMark
from auditlog.recorder import record
from core.tenancy import tenant

URL = "/settings/security/audit-log/volume.svg"
# Counting is the owner's platform job, on its own login: it sees committed rows only.
pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "owner"])


@pytest.fixture(autouse=True)
def _no_margin(settings):
    # Days end when their last second is past; no transaction of another test is open.
    settings.AUDIT_SEAL_MARGIN_SECONDS = 0
    cache.clear()


def counts(response) -> dict[str, int]:
    assert response.status_code == 200
    svg = response.content.decode()
    return {day: int(n) for day, n in re.findall(r'data-day="([^"]+)" data-count="(\d+)"', svg)}


def _today():
    return timezone.now().astimezone(UTC).date()


def _event(section: str, action: str, days_ago: int, hour: int, subject: str = "1") -> None:
    moment = datetime.combine(_today() - timedelta(days=days_ago), time(hour), UTC)
    record(section=section, action=action, subject_id=subject, subject_name="X", occurred_at=moment)


def _fill() -> dict[str, str]:
    """A week of sign-ins, searches and shortcuts; the week's filters."""
    for days_ago, logins in ((1, 3), (2, 1), (4, 5)):
        for hour in range(logins):
            _event("Session", "login", days_ago, hour)
    _event("Search", "create", 2, 10)
    _event("Search", "update", 4, 11)
    _event("Shortcut", "create", 4, 12)
    _event("Session", "login", 0, 0)
    return {"start": (_today() - timedelta(days=6)).isoformat(), "end": _today().isoformat()}


def _event_groupings(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "GROUP BY" in q["sql"] and 'auditlog_auditevent"' in q["sql"]
    ]


FILTERS = (
    {},
    {"event_type": "authorization"},
    {"event_type": "settings,authorization"},
    {"event_type": "billing"},
    {"section": "Search"},
    {"kind": "search"},
    {"kind": "shortcut", "event_type": "settings"},
    {"kind": "search", "event_type": "authorization"},
)


@pytest.mark.parametrize("extra", FILTERS)
def test_the_strip_from_day_counts_equals_counting_events(org, admin_client, extra):
    week = {**_fill(), **extra}
    counted_live = counts(admin_client.get(URL, week))

    summary = daycounts.roll_up()
    assert summary.days == 4  # from the oldest event's day through yesterday
    assert AuditEventDayMark.objects.get(org_id=org.pk).through_day == _today() - timedelta(days=1)
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        from_counts = counts(admin_client.get(URL, week))

    assert from_counts == counted_live
    # Only today is counted from events; the past days come from the day counts.
    grouped = _event_groupings(queries)
    assert len(grouped) <= 1
    assert all('"occurred_at" >=' in sql for sql in grouped)


def test_filters_the_counts_cannot_answer_count_events(org, admin, admin_client):
    week = _fill()
    daycounts.roll_up()
    params = {**week, "event_type": "authorization", "user": str(admin.pk)}
    with CaptureQueriesContext(connection) as queries:
        counts(admin_client.get(URL, params))
    # The past days are counted from events (the sub-filter is not in the day counts).
    assert len(_event_groupings(queries)) == 2


def test_a_finished_day_is_counted_once_and_today_live(org, admin_client):
    week = _fill()
    daycounts.roll_up()
    # Counting again finds nothing new; the counts stay what they were.
    assert daycounts.roll_up().days == 0
    rows = AuditEventDayCount.objects.filter(org_id=org.pk).count()
    before = counts(admin_client.get(URL, week))
    _event("Session", "login", 0, 0)
    cache.clear()
    after = counts(admin_client.get(URL, week))
    assert after[_today().isoformat()] == before[_today().isoformat()] + 1
    assert AuditEventDayCount.objects.filter(org_id=org.pk).count() == rows
    day = (_today() - timedelta(days=4)).isoformat()
    assert after[day] == before[day] == 7


def test_another_organisations_counts_never_show(org, other_org, admin_client):
    week = _fill()
    with tenant(other_org):
        for hour in range(6):
            _event("Session", "login", 3, hour)
    daycounts.roll_up()
    three_days_ago = (_today() - timedelta(days=3)).isoformat()
    assert counts(admin_client.get(URL, week))[three_days_ago] == 0
    # Row-level security: in one organisation's context the other's rows do not exist.
    assert not AuditEventDayCount.objects.filter(org_id=other_org.pk).exists()
    assert not AuditEventDayMark.objects.filter(org_id=other_org.pk).exists()
    with tenant(other_org):
        assert AuditEventDayCount.objects.filter(org_id=other_org.pk).exists()


def test_a_new_time_zone_counts_again_in_that_zone(org, admin_client):
    week = _fill()
    daycounts.roll_up()
    utc = counts(admin_client.get(URL, week))
    org.time_zone = "Pacific/Auckland"  # UTC+13 in November: days start 13 hours earlier
    org.save(update_fields=["time_zone"])
    cache.clear()
    # Not counted in that zone yet: the strip counts the events themselves.
    assert daycounts.counted_days(org.pk, org.time_zone, None, None, {}) is None
    live = counts(admin_client.get(URL, week))
    assert live != utc
    daycounts.roll_up()
    assert AuditEventDayMark.objects.get(org_id=org.pk).time_zone == "Pacific/Auckland"
    cache.clear()
    assert counts(admin_client.get(URL, week)) == live


def test_purged_events_leave_the_day_counts(org, admin_client):
    old = _today() - timedelta(days=100)
    for hour in (1, 2):
        record(
            section="Session",
            action="login",
            subject_id="1",
            occurred_at=datetime.combine(old, time(hour), UTC),
        )
    _event("Search", "create", 100, 3)  # settings keep 365 days: its count stays
    daycounts.roll_up()
    window = {"start": old.isoformat(), "end": old.isoformat()}
    assert counts(admin_client.get(URL, window)) == {old.isoformat(): 3}
    integrity.seal(margin_seconds=0)

    assert retention.retention_purge().events_purged == 2

    cache.clear()
    assert counts(admin_client.get(URL, window)) == {old.isoformat(): 1}
    assert counts(admin_client.get(URL, {**window, "section": "Session"})) == {old.isoformat(): 0}
