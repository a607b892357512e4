"""Connectivity lapse: a silent Available agent goes Unavailable, performed by `system`."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from core import clock
from tests.conftest import audit_rows, compact
from tests.worksession.conftest import make_agent
from worksession.models import AgentStatus
from worksession.tasks import detect_heartbeat_lapses


def at(moment):
    return clock.use(lambda: moment)


def workspace_of(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def test_silent_agent_goes_unavailable_after_the_grace_period_and_a_beating_one_does_not(org):
    t0 = timezone.now()
    silent = make_agent("silent@acme.test", "Silent Agent")
    steady = make_agent("steady@acme.test", "Steady Agent")
    silent_page, steady_page = workspace_of(silent), workspace_of(steady)
    with at(t0):
        for page in (silent_page, steady_page):
            assert page.post("/workspace/status/", {"status": "Available"}).status_code == 302
            assert page.post("/workspace/heartbeat/").status_code == 200

    grace = org.heartbeat_grace_seconds  # 90 by default
    with at(t0 + timedelta(seconds=grace - 1)):
        assert detect_heartbeat_lapses.apply().get() == 0
    for seconds in (60, 120, 180):
        with at(t0 + timedelta(seconds=seconds)):
            steady_page.post("/workspace/heartbeat/")
    with at(t0 + timedelta(seconds=grace + 100)):
        assert detect_heartbeat_lapses.apply().get() == 1
        # A second run finds nothing more to do.
        assert detect_heartbeat_lapses.apply().get() == 0

    assert AgentStatus.objects.get(pk=silent.pk).status == "Unavailable"
    assert AgentStatus.objects.get(pk=steady.pk).status == "Available"
    (row,) = audit_rows(org, section="Work Session", actor_type="system")
    assert compact(
        [row],
        "action",
        "property",
        "before",
        "after",
        "actor_type",
        "actor_id",
        "actor_name",
        "subject_id",
        "subject_name",
    ) == [
        (
            "update",
            "status",
            "Available",
            "Unavailable",
            "system",
            None,
            "System",
            str(silent.pk),
            "Silent Agent",
        )
    ]
    assert row["metadata"] == {
        "reason": "heartbeat_lapse",
        "last_heartbeat_at": t0.isoformat(),
        "grace_seconds": grace,
    }
    assert row["ip_address"] is None


def test_the_organisations_grace_period_is_used(org):
    org.heartbeat_grace_seconds = 600
    org.save()
    t0 = timezone.now()
    agent = make_agent("slow@acme.test", "Slow Agent")
    with at(t0):
        workspace_of(agent).post("/workspace/status/", {"status": "Available"})
    with at(t0 + timedelta(seconds=300)):
        assert detect_heartbeat_lapses.apply().get() == 0
    with at(t0 + timedelta(seconds=601)):
        assert detect_heartbeat_lapses.apply().get() == 1


def test_a_session_with_no_sign_of_life_ends_by_lapse(org, settings):
    t0 = timezone.now()
    agent = make_agent("gone@acme.test", "Gone Agent")
    with at(t0):
        page = workspace_of(agent)
        page.post("/workspace/status/", {"status": "Available"})
    with at(t0 + timedelta(seconds=settings.WORK_SESSION_TIMEOUT_SECONDS + 1)):
        detect_heartbeat_lapses.apply()
    rows = audit_rows(org, section="Work Session", actor_type="system")
    assert compact(rows, "action", "property", "before", "after") == [
        ("update", "status", "Available", "Unavailable"),
        ("session_end", None, None, None),
    ]
    assert rows[1]["metadata"]["reason"] == "lapse"
    assert rows[1]["metadata"]["duration_seconds"] == settings.WORK_SESSION_TIMEOUT_SECONDS + 1
    assert AgentStatus.objects.get(pk=agent.pk).session_started_at is None
