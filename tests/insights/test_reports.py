"""Connectivity report, Team Pulse and the Audit Log volume strip, driven by the real services."""

import json
import re
from datetime import timedelta

import pytest

from conversations import services as conversations
from core.context import Actor
from core.tenancy import tenant
from settings_app import services as settings
from tests.insights.conftest import local
from tests.insights.helpers import at, attributes, lapse, make_agent
from worksession import services

# Connectivity ------------------------------------------------------------------------------


def test_agents_ranked_by_system_lapses_with_counts_per_day(org, other_org, admin_client, berlin):
    today = berlin
    d1, d2 = today - timedelta(days=2), today - timedelta(days=1)
    ann = make_agent(org, "ann@acme.test", "Ann Agent")
    bob = make_agent(org, "bob@acme.test", "Bob Agent")
    cat = make_agent(org, "cat@acme.test", "Cat Agent")
    lapse(org, bob, local(d1, 9))
    lapse(org, ann, local(d1, 10))
    lapse(org, ann, local(d1, 14))
    lapse(org, ann, local(d2, 0, 30))  # just after midnight in Berlin, still the day before in UTC
    # Cat goes Unavailable herself: not a lapse.
    with at(local(d2, 9)), tenant(org, actor=Actor.for_user(cat)):
        services.work_session_start(user=cat)
        services.agent_status_set(user=cat, status="Available")
        services.agent_status_set(user=cat, status="Unavailable")
    # Another organisation's lapses never show.
    globex_agent = make_agent(other_org, "zed@globex.test", "Zed Globex")
    lapse(other_org, globex_agent, local(d1, 9))

    response = admin_client.get(
        "/settings/work/connectivity/", {"start": d1.isoformat(), "end": today.isoformat()}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert attributes(html, r"tr data-agent-id=", "data-agent-id") == [str(ann.pk), str(bob.pk)]
    ann_row = html[html.index(f'<tr data-agent-id="{ann.pk}"') :]
    ann_row = ann_row[: ann_row.index("</tr>")]
    assert attributes(ann_row, r'td class="day', "data-count") == ["2", "1", "0"]
    assert attributes(ann_row, r'td class="day', "data-day") == [
        d1.isoformat(),
        d2.isoformat(),
        today.isoformat(),
    ]
    assert "4 lapses across 2 agents" in html
    assert "Zed Globex" not in html and "Cat Agent" not in html
    # Links to the rows: the agent's system status changes on that day.
    assert (
        f"start={d2.isoformat()}&amp;end={d2.isoformat()}&amp;event_type=work_session"
        f"&amp;agent={ann.pk}&amp;actor_type=system&amp;property=status"
    ) in ann_row
    # Following the day's link shows exactly that lapse.
    link = re.search(
        r'<a href="(/settings/security/audit-log/\?start=' + d2.isoformat() + r'[^"]*)"', ann_row
    )
    log = admin_client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert log.count('data-section="Work Session"') == 1
    assert "System (connectivity lapse)" in log


def test_connectivity_defaults_to_the_last_seven_days_and_rejects_bad_ranges(
    org, admin_client, berlin
):
    response = admin_client.get("/settings/work/connectivity/")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'value="{(berlin - timedelta(days=6)).isoformat()}"' in html
    assert "No connectivity lapses in these days." in html
    for params in (
        {"start": "x"},
        {"start": "2025-03-02", "end": "2025-03-01"},
        {"start": "2024-01-01", "end": "2025-01-01"},
    ):
        bad = admin_client.get("/settings/work/connectivity/", params)
        assert bad.status_code == 400
        assert 'id="range-errors"' in bad.content.decode()


# Team Pulse ----------------------------------------------------------------------------------


def test_team_pulse_json_is_the_live_state(org, admin_client):
    ann = make_agent(org, "ann@acme.test", "Ann Agent")
    bob = make_agent(org, "bob@acme.test", "Bob Agent")
    with tenant(org, actor=Actor.for_user(ann)):
        services.work_session_start(user=ann)
        services.agent_status_set(user=ann, status="Available")
        services.agent_capacity_set(user=ann, capacity=1)
        customer = conversations.customer_create(name="Grace", email="grace@example.com")
        for n in range(2):
            conversation = conversations.conversation_create(customer=customer, subject=f"Q{n}")
            conversations.conversation_assign(
                conversation=conversation, assignee=ann, allow_over_capacity=True
            )

    data = json.loads(admin_client.get("/settings/work/pulse.json").content)
    by_name = {agent["name"]: agent for agent in data["agents"]}
    assert by_name["Ann Agent"] | {"heartbeat_age_seconds": None} == {
        "id": ann.pk,
        "name": "Ann Agent",
        "status": "Available",
        "state": "available",
        "signed_in": True,
        "session_started_at": by_name["Ann Agent"]["session_started_at"],
        "last_heartbeat_at": by_name["Ann Agent"]["last_heartbeat_at"],
        "heartbeat_age_seconds": None,
        "load": 2,
        "capacity": 1,
        "over_capacity": True,
    }
    assert by_name["Bob Agent"]["state"] == "signed_out"
    assert by_name["Bob Agent"]["load"] == 0
    assert data["summary"]["available"] == 1
    assert data["summary"]["over_capacity"] == 1

    with tenant(org, actor=Actor.for_user(bob)):
        services.work_session_start(user=bob)
        services.agent_status_set(user=bob, status="Available")
    data = json.loads(admin_client.get("/settings/work/pulse.json").content)
    assert {a["name"]: a["state"] for a in data["agents"]}["Bob Agent"] == "available"

    page = admin_client.get("/settings/work/pulse/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<tr data-agent-id="{ann.pk}" data-state="available" class="over">' in html
    assert 'data-src="/settings/work/pulse.json"' in html


# Volume strip --------------------------------------------------------------------------------


def test_volume_strip_counts_events_per_local_day_for_the_page_filters(
    org, other_org, admin, admin_client, berlin
):
    today = berlin
    d1, d2 = today - timedelta(days=3), today - timedelta(days=1)
    with tenant(org, actor=Actor.for_user(admin)):
        with at(local(d1, 10)):
            settings.shortcut_create(name="A", text="a", category="x")  # 3 rows
        with at(local(d2, 0, 30)):  # 23:30 UTC the day before: Berlin's day d2
            settings.shortcut_create(name="B", text="b")  # 2 rows
            conversations.customer_create(name="Grace", email="g@example.com")  # 2 rows
    with tenant(other_org), at(local(d2, 12)):
        settings.shortcut_create(name="Other", text="never counted")

    url = "/settings/security/audit-log/volume.svg"
    params = {"start": d1.isoformat(), "end": d2.isoformat()}
    response = admin_client.get(url, params)
    svg = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert attributes(svg, r"a href=", "data-day") == [
        d1.isoformat(),
        (d1 + timedelta(days=1)).isoformat(),
        d2.isoformat(),
    ]
    assert attributes(svg, r"a href=", "data-count") == ["3", "0", "4"]
    assert "7 events" in svg

    settings_only = admin_client.get(url, {**params, "event_type": "settings", "kind": "shortcut"})
    svg = settings_only.content.decode()
    assert attributes(svg, r"a href=", "data-count") == ["3", "0", "2"]
    # Each bar narrows the page to its day, keeping the other filters.
    hrefs = attributes(svg, r"a href=", "href")
    assert hrefs[2].replace("&amp;", "&") == (
        f"/settings/security/audit-log/?start={d2.isoformat()}&end={d2.isoformat()}"
        "&event_type=settings&kind=shortcut"
    )
    assert 'target="_top"' in svg

    # Ranges beyond the calendar's reach are clamped, never an error or a huge chart.
    wide = admin_client.get(url, {"start": "0001-01-01", "end": "9999-12-31"})
    assert wide.status_code == 200
    days = attributes(wide.content.decode(), r"a href=", "data-day")
    assert len(days) == 731 and days[-1] == today.isoformat()

    bad = admin_client.get(url, {"start": "nope"})
    assert bad.status_code == 400
    assert "Fix the filters" in bad.content.decode()


def test_audit_log_page_embeds_the_strip_for_its_filters(org, admin_client, berlin):
    page = admin_client.get(
        "/settings/security/audit-log/", {"event_type": "settings"}
    ).content.decode()
    src = re.search(r'<iframe class="volume-strip" id="volume-strip" src="([^"]+)"', page).group(1)
    assert src == "/settings/security/audit-log/volume.svg?event_type=settings"
    default = admin_client.get("/settings/security/audit-log/").content.decode()
    week_ago = (berlin - timedelta(days=6)).isoformat()
    assert f'volume.svg?start={week_ago}&amp;end={berlin.isoformat()}"' in default
    broken = admin_client.get("/settings/security/audit-log/", {"start": "nope"}).content.decode()
    assert "volume-strip" not in broken


def test_counting_that_takes_too_long_is_cut_off(org, monkeypatch):
    """A statement timeout bounds the strip's count; the strip then says so instead."""
    from audit_read import volume
    from auditlog.models import AuditEvent

    monkeypatch.setattr(volume, "TIMEOUT_MS", 20)
    slow = AuditEvent.objects.for_org(org.pk).extra(where=["pg_sleep(0.2) IS NOT NULL"])
    with pytest.raises(volume.TooSlow):
        volume.daily_counts(slow, org.tz)
    assert volume.daily_counts(AuditEvent.objects.for_org(org.pk), org.tz)  # the connection is fine
