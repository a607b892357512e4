"""The volume strip counts past days once (cached for volume.CACHE_SECONDS) and today at most
every volume.TODAY_SECONDS."""

import re
from datetime import UTC, datetime, time, timedelta

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit_read import volume
from auditlog.recorder import record
from core.context import Actor

URL = "/settings/security/audit-log/volume.svg"


def counts(response) -> dict[str, int]:
    svg = response.content.decode()
    return {day: int(n) for day, n in re.findall(r'data-day="([^"]+)" data-count="(\d+)"', svg)}


def login_at(admin, moment: datetime) -> None:
    record(
        section="Session",
        action="login",
        subject_id=admin.pk,
        subject_name=admin.name,
        actor=Actor.for_user(admin),
        occurred_at=moment,
    )


def logins_in_a_week(admin, *, days_ago: int, logins: int) -> tuple:
    """With an empty cache, `logins` sign-ins `days_ago` days back; (today, last-7-days filters)."""
    cache.clear()
    today = timezone.now().astimezone(UTC).date()
    for hours in range(logins):
        login_at(admin, datetime.combine(today - timedelta(days=days_ago), time(hours), UTC))
    return today, {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()}


def test_past_days_are_counted_once_and_today_every_time(org, admin, admin_client, monkeypatch):
    monkeypatch.setattr(volume, "TODAY_SECONDS", 0)
    cache.clear()
    today = timezone.now().astimezone(UTC).date()
    two_days_ago = today - timedelta(days=2)
    noon = datetime.combine(two_days_ago, time(12), UTC)
    login_at(admin, noon)
    login_at(admin, noon + timedelta(hours=1))
    params = {"start": two_days_ago.isoformat(), "end": today.isoformat(), "section": "Session"}

    response = admin_client.get(URL, params)
    first = counts(response)
    assert first[two_days_ago.isoformat()] == 2
    # Paging keeps the strip's URL: the browser may reuse it for a minute.
    assert set(response["Cache-Control"].split(", ")) == {"private", "max-age=60"}

    # Today's events show at once; a past day's count is what was counted (append-only log).
    login_at(admin, timezone.now())
    login_at(admin, noon + timedelta(hours=2))  # backdated: shows once the cache expires
    with CaptureQueriesContext(connection) as queries:
        second = counts(admin_client.get(URL, params))
    assert second[today.isoformat()] == first.get(today.isoformat(), 0) + 1
    assert second[two_days_ago.isoformat()] == 2
    grouped = [q["sql"] for q in queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1 and '"occurred_at" >=' in grouped[0]

    cache.clear()  # as after volume.CACHE_SECONDS
    third = counts(admin_client.get(URL, params))
    assert third[two_days_ago.isoformat()] == 3
    assert volume.CACHE_SECONDS <= 3600  # how stale a backdated record can look


def test_windows_share_the_days_they_have_in_common(org, admin, admin_client):
    cache.clear()
    today = timezone.now().astimezone(UTC).date()
    for days_ago in (1, 3, 5):
        login_at(admin, datetime.combine(today - timedelta(days=days_ago), time(9), UTC))
    week = {"start": (today - timedelta(days=6)).isoformat(), "end": today.isoformat()}
    three = {"start": (today - timedelta(days=2)).isoformat(), "end": today.isoformat()}

    small = counts(admin_client.get(URL, three))
    with CaptureQueriesContext(connection) as queries:
        large = counts(admin_client.get(URL, week))
    grouped = [q["sql"] for q in queries if "GROUP BY" in q["sql"]]
    # Only the 4 days the 3-day view had not counted (today's count is shared too).
    assert len(grouped) == 1
    assert {day: n for day, n in large.items() if day in small} == small
    assert large[(today - timedelta(days=5)).isoformat()] == 1
    assert large[(today - timedelta(days=3)).isoformat()] == 1
    assert sum(large.values()) == 3 + large[today.isoformat()]
    # A date-time bound cuts its day short: such a strip is counted, never cached.
    timed = counts(admin_client.get(URL, {**week, "start": week["start"] + "T12:00:00"}))
    assert timed[(today - timedelta(days=5)).isoformat()] == 1


def test_a_search_strip_declines_when_the_other_filters_leave_too_many(
    org, admin, admin_client, monkeypatch
):
    today, week = logins_in_a_week(admin, days_ago=1, logins=4)
    monkeypatch.setattr(volume, "SEARCH_COUNT_LIMIT", 3)
    declined = admin_client.get(URL, {**week, "q": admin.name}).content.decode()
    assert "Too many events to count a search per day" in declined
    monkeypatch.setattr(volume, "SEARCH_COUNT_LIMIT", 100)
    counted = counts(admin_client.get(URL, {**week, "q": admin.name}))
    assert counted[(today - timedelta(days=1)).isoformat()] == 4


def test_todays_count_is_reused_for_a_short_while(org, admin, admin_client, monkeypatch):
    cache.clear()
    today = timezone.now().astimezone(UTC).date()
    params = {"start": (today - timedelta(days=1)).isoformat(), "end": today.isoformat()}
    login_at(admin, timezone.now())
    first = counts(admin_client.get(URL, params))
    login_at(admin, timezone.now())
    with CaptureQueriesContext(connection) as queries:
        second = counts(admin_client.get(URL, params))
    # Within TODAY_SECONDS: the same figure, and no count at all.
    assert second[today.isoformat()] == first[today.isoformat()]
    assert not [q for q in queries if "GROUP BY" in q["sql"]]
    # Once it has expired (as TODAY_SECONDS = 0 makes every view), today is counted again.
    monkeypatch.setattr(volume, "TODAY_SECONDS", 0)
    third = counts(admin_client.get(URL, params))
    assert third[today.isoformat()] == first[today.isoformat()] + 1


def test_a_strip_too_large_to_count_is_declined_before_counting(
    org, admin, admin_client, monkeypatch
):
    """Above volume.ESTIMATE_LIMIT events (PostgreSQL's estimate) the strip says so without
    running the count, and remembers that for the filters; below it, it counts."""
    today, week = logins_in_a_week(admin, days_ago=2, logins=6)
    monkeypatch.setattr(volume, "ESTIMATE_LIMIT", 0)
    with CaptureQueriesContext(connection) as queries:
        declined = admin_client.get(URL, week).content.decode()
    assert "Too many events to count quickly" in declined
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert any(q["sql"].startswith("EXPLAIN") for q in queries.captured_queries)
    # Not asked again by the browser while the server would decline anyway.
    # (A request clears the captured queries: asked after reading them.)
    response = admin_client.get(URL, week)
    assert set(response["Cache-Control"].split(", ")) == {
        "private",
        f"max-age={volume.SLOW_SECONDS}",
    }
    monkeypatch.setattr(volume, "ESTIMATE_LIMIT", 1_000_000)
    # The decline is remembered for these filters (SLOW_SECONDS); other filters count.
    assert "Too many events" in admin_client.get(URL, week).content.decode()
    counted = counts(admin_client.get(URL, {**week, "event_type": "authorization"}))
    assert counted[(today - timedelta(days=2)).isoformat()] == 6
