"""The work-session timeline against a scripted agent day driven through the worksession and
conversation services in simulated time (core.clock): totals, bands, load, capacity and
markers must match the script exactly, in the organisation's time zone."""

from datetime import UTC, date, timedelta
from typing import Any

from django.utils import timezone

from auditlog.models import AuditEvent
from insights import timeline
from tests.insights.conftest import BERLIN, local
from tests.insights.helpers import attributes


def build(org: Any, agent: Any, first: date, last: date) -> timeline.Timeline:
    start, end = timeline.day_range(first, last, BERLIN)
    return timeline.build(
        org_id=org.pk,
        agent_id=agent.pk,
        agent_name=str(agent),
        start=start,
        end=end,
        now=timezone.now(),
    )


def test_totals_bands_load_and_markers_match_the_scripted_day(org, day, scripted_day):
    ann, events = scripted_day["ann"], scripted_day["events"]
    built = build(org, ann, day, day)

    assert built.start == local(day, 0) and built.end == local(day + timedelta(days=1), 0)
    assert built.totals == timeline.Totals(
        logged_in=timedelta(hours=8, minutes=5),
        available=timedelta(hours=3, minutes=56, seconds=40) + timedelta(hours=3, minutes=30),
        handled=4,
        assignments=4,
        over_capacity=2,
        lapses=1,
    )
    assert [(b.start, b.end, b.state) for b in built.bands] == [
        (local(day, 0), local(day, 8), "logged_out"),
        (local(day, 8), local(day, 8, 5), "unavailable"),
        (local(day, 8, 5), local(day, 12, 1, 40), "available"),
        (local(day, 12, 1, 40), local(day, 12, 30), "unavailable"),
        (local(day, 12, 30), local(day, 16), "available"),
        (local(day, 16), local(day, 16, 5), "unavailable"),
        (local(day, 16, 5), local(day + timedelta(days=1), 0), "logged_out"),
    ]
    assert [(s.at, s.value) for s in built.capacity] == [(local(day, 0), 3), (local(day, 7), 2)]
    # The close at 11:30 lowers the load with no Work Session row of its own.
    assert [(s.at, s.value) for s in built.load] == [
        (local(day, 0), 0),
        (local(day, 9), 1),
        (local(day, 9, 30), 2),
        (local(day, 10), 3),
        (local(day, 10, 15), 4),
        (local(day, 11), 3),
        (local(day, 11, 30), 2),
    ]
    markers = [(m.at, m.kind, m.load_after, m.over_capacity, m.crossed) for m in built.markers]
    assert markers == [
        (local(day, 9), "assign", 1, False, False),
        (local(day, 9, 30), "assign", 2, False, False),
        (local(day, 10), "assign", 3, True, True),
        (local(day, 10, 15), "assign", 4, True, False),
        (local(day, 11), "unassign", 3, True, False),  # back to 3 of 2: still over
        (local(day, 12, 1, 40), "lapse", None, False, False),
    ]
    crossing = [m for m in built.markers if m.crossed]
    assert [m.event.pk for m in crossing] == [events["assigns"][2].pk]
    assert [m.event.pk for m in built.markers if m.kind == "lapse"] == [events["lapse"].pk]


def test_the_next_day_starts_from_the_state_the_log_left(org, day, scripted_day):
    ann = scripted_day["ann"]
    built = build(org, ann, day + timedelta(days=1), day + timedelta(days=1))
    assert built.totals.logged_in == timedelta(0)
    assert [b.state for b in built.bands] == ["logged_out"]
    assert [(s.value) for s in built.load] == [2]  # two conversations still open and hers
    assert [(s.value) for s in built.capacity] == [2]
    assert built.markers == []

    two_days = build(org, ann, day, day + timedelta(days=1))
    assert two_days.totals.logged_in == timedelta(hours=8, minutes=5)
    assert two_days.totals.handled == 4


def test_timeline_page_shows_the_totals_and_markers(org, admin_client, day, scripted_day):
    ann, events = scripted_day["ann"], scripted_day["events"]
    url = f"/settings/work/agents/{ann.pk}/timeline/"
    response = admin_client.get(url, {"start": day.isoformat()})
    html = response.content.decode()
    assert response.status_code == 200
    assert attributes(html, r'data-total="logged_in"', "data-seconds") == [str(8 * 3600 + 300)]
    assert attributes(html, r'data-total="available"', "data-seconds") == [
        str(3 * 3600 + 56 * 60 + 40 + 3 * 3600 + 30 * 60)
    ]
    assert '<dd data-total="handled">4</dd>' in html
    assert ">8 h 05 min<" in html and ">7 h 26 min<" in html
    assert attributes(html, r'class="marker ', "data-kind") == [
        "assign",
        "assign",
        "assign",
        "assign",
        "unassign",
        "lapse",
    ]
    assert attributes(html, r'data-crossed="true"', "data-event-id") == [
        str(events["assigns"][2].pk)
    ]
    assert "took the agent over capacity" in html
    assert "<svg" in html and 'role="group"' in html
    # Each marker links to its rows in the audit log (agent, exact instant).
    lapse_at = events["lapse"].occurred_at.astimezone(UTC).isoformat().replace("+", "%2B")
    assert f"agent={ann.pk}&amp;start={lapse_at.replace(':', '%3A')}" in html
    # The events table lists every Work Session row of the day, oldest first.
    day_rows = AuditEvent.objects.for_org(org.pk).filter(
        subject_type="user",
        subject_id=str(ann.pk),
        section="Work Session",
        occurred_at__gte=local(day, 0),
        occurred_at__lt=local(day + timedelta(days=1), 0),
    )
    listed = attributes(html, r'tr class="ev-', "data-event-id")
    assert listed == [
        str(pk) for pk in day_rows.order_by("occurred_at", "id").values_list("pk", flat=True)
    ]


def test_default_is_today_and_bad_ranges_get_a_clear_400(org, admin_client, scripted_day):
    ann = scripted_day["ann"]
    url = f"/settings/work/agents/{ann.pk}/timeline/"
    assert admin_client.get(url).status_code == 200
    for params, param in (
        ({"start": "2025-02-30"}, "start"),
        ({"start": "soon"}, "start"),
        ({"start": "2025-03-02", "end": "2025-03-01"}, "start"),
        ({"start": "2025-01-01", "end": "2025-03-01"}, "end"),
        ({"start": "9999-12-31"}, "start"),
        ({"start": "0001-01-01"}, "start"),
    ):
        response = admin_client.get(url, params)
        assert response.status_code == 400, params
        assert f"<code>{param}</code>" in response.content.decode()


def test_timeline_is_reached_from_the_audit_log_work_session_rows(
    org, admin_client, day, scripted_day
):
    ann = scripted_day["ann"]
    response = admin_client.get(
        "/settings/security/audit-log/",
        {
            "event_type": "work_session",
            "agent": ann.pk,
            "start": day.isoformat(),
            "end": day.isoformat(),
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        f'href="/settings/work/agents/{ann.pk}/timeline/?start={day.isoformat()}">Timeline</a>'
        in html
    )
    assert f'href="/settings/security/audit-log/history/user/{ann.pk}/">History</a>' in html
    routing = admin_client.get("/settings/routing/").content.decode()
    assert f"/settings/work/agents/{ann.pk}/timeline/" in routing
    users = admin_client.get("/settings/users/").content.decode()
    assert f"/settings/work/agents/{ann.pk}/timeline/" in users
