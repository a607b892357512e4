"""Every Work Session event of SPEC section 2 caused the way people cause it, with its exact rows."""

from django.test import Client

from core.context import SYSTEM
from core.tenancy import tenant
from tests.conftest import PASSWORD, audit_rows, compact
from worksession import services
from worksession.models import AgentStatus

IP = "198.51.100.23"
UA = "Mozilla/5.0 AuditdeskTest/2.0"
FIELDS = ("action", "property", "before", "after", "actor_type", "actor_id", "actor_name")
SUBJECT = ("subject_type", "subject_id", "subject_name")


def browser() -> Client:
    return Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=UA)


def sign_in(agent) -> Client:
    client = browser()
    response = client.post("/accounts/login/", {"username": agent.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_login_starts_a_work_session(org, agent):
    sign_in(agent)
    rows = audit_rows(org, section__in=["Session", "Work Session"])
    me = ("user", str(agent.pk), "Ann Agent")
    assert compact(rows, "section", *FIELDS, *SUBJECT, "ip_address", "user_agent", "metadata") == [
        ("Session", "login", None, None, None, *me, "user", str(agent.pk), "Ann Agent", IP, UA, {}),
        (
            "Work Session",
            "session_start",
            None,
            None,
            None,
            *me,
            "user",
            str(agent.pk),
            "Ann Agent",
            IP,
            UA,
            {"reason": "login"},
        ),
    ]
    assert rows[1]["event_type"] == "work_session"
    assert AgentStatus.objects.get(pk=agent.pk).session_started_at is not None


def test_status_toggle_and_logout_end_the_session(org, agent):
    client = sign_in(agent)
    assert client.post("/workspace/status/", {"status": "Available"}).status_code == 302
    assert client.post("/accounts/logout/").status_code == 302

    me = ("user", str(agent.pk), "Ann Agent")
    rows = audit_rows(org, section="Work Session")
    assert compact(rows, *FIELDS, *SUBJECT) == [
        ("session_start", None, None, None, *me, "user", str(agent.pk), "Ann Agent"),
        ("update", "status", "Unavailable", "Available", *me, "user", str(agent.pk), "Ann Agent"),
        ("update", "status", "Available", "Unavailable", *me, "user", str(agent.pk), "Ann Agent"),
        ("session_end", None, None, None, *me, "user", str(agent.pk), "Ann Agent"),
    ]
    assert rows[1]["metadata"] == {}
    assert rows[2]["metadata"] == {"reason": "logout"}
    end = rows[3]["metadata"]
    assert end["reason"] == "logout" and end["duration_seconds"] >= 0 and end["started_at"]
    state = AgentStatus.objects.get(pk=agent.pk)
    assert (state.status, state.session_started_at) == ("Unavailable", None)


def test_going_unavailable_on_the_workspace_page(org, agent):
    client = sign_in(agent)
    client.post("/workspace/status/", {"status": "Available"})
    client.post("/workspace/status/", {"status": "Unavailable"})
    rows = audit_rows(org, section="Work Session", action="update")
    assert compact(rows, "property", "before", "after", "actor_id") == [
        ("status", "Unavailable", "Available", str(agent.pk)),
        ("status", "Available", "Unavailable", str(agent.pk)),
    ]


def test_pressing_the_current_status_again_records_nothing(org, agent):
    client = sign_in(agent)
    client.post("/workspace/status/", {"status": "Unavailable"})
    assert audit_rows(org, section="Work Session", action="update") == []


def test_a_bad_status_value_is_a_400_and_changes_nothing(org, agent):
    client = sign_in(agent)
    response = client.post("/workspace/status/", {"status": "Asleep"})
    assert response.status_code == 400
    assert "Status must be one of Available, Unavailable" in response.content.decode()
    assert AgentStatus.objects.get(pk=agent.pk).status == "Unavailable"
    assert audit_rows(org, section="Work Session", action="update") == []
    assert client.get("/workspace/status/").status_code == 405


def test_administrator_sets_an_agents_capacity(org, admin, admin_client, agent):
    response = admin_client.post(f"/settings/routing/{agent.pk}/capacity/", {"capacity": "5"})
    assert response.status_code == 302
    (row,) = audit_rows(org, section="Work Session", action="update")
    assert compact([row], *FIELDS, *SUBJECT) == [
        (
            "update",
            "capacity",
            3,
            5,
            "user",
            str(admin.pk),
            "Acme Admin",
            "user",
            str(agent.pk),
            "Ann Agent",
        )
    ]
    assert row["metadata"] == {"load": 0, "over_capacity": False}
    assert "Ann Agent" in admin_client.get("/settings/routing/").content.decode()


def test_invalid_capacity_is_a_400_and_changes_nothing(org, admin_client, agent):
    for bad in ("-1", "abc", "101", ""):
        response = admin_client.post(f"/settings/routing/{agent.pk}/capacity/", {"capacity": bad})
        assert response.status_code == 400, bad
        assert "Capacity for Ann Agent" in response.content.decode()
    assert not AgentStatus.objects.filter(pk=agent.pk).exclude(capacity=3).exists()
    assert audit_rows(org, section="Work Session", property="capacity") == []


def test_agents_cannot_set_capacity(org, agent):
    client = sign_in(agent)
    assert client.get("/settings/routing/").status_code == 403
    assert (
        client.post(f"/settings/routing/{agent.pk}/capacity/", {"capacity": "9"}).status_code == 403
    )
    assert audit_rows(org, section="Work Session", property="capacity") == []


def test_another_organisations_agent_is_not_found(org, other_org, admin_client):
    foreign = other_org.users.get()
    response = admin_client.post(f"/settings/routing/{foreign.pk}/capacity/", {"capacity": "1"})
    assert response.status_code == 404


def test_heartbeat_reports_state_and_resumes_a_lapsed_session(org, agent):
    client = sign_in(agent)
    client.post("/accounts/logout/")
    client.force_login(agent)
    state = AgentStatus.objects.get(pk=agent.pk)
    assert state.session_started_at is not None  # the login started a new one

    with tenant(org, actor=SYSTEM):
        services.work_session_end(user=agent, reason="lapse")
    response = client.post("/workspace/heartbeat/")
    assert response.status_code == 200
    assert response.json() == {"status": "Unavailable", "capacity": 3, "load": 0}
    starts = audit_rows(org, section="Work Session", action="session_start")
    assert [row["metadata"] for row in starts] == [
        {"reason": "login"},
        {"reason": "login"},
        {"reason": "heartbeat"},
    ]
    assert client.get("/workspace/heartbeat/").status_code == 405


def test_the_workspace_page_works_without_javascript(org, agent):
    client = sign_in(agent)
    page = client.get("/workspace/").content.decode()
    assert 'name="status" value="Available"' in page and "Nothing assigned to you" in page
    assert "js/workspace.js" in page
    assert "/workspace/heartbeat/" in page
