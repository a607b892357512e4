"""GET /api/v1/audit-events/: every SPEC 5 filter alone and combined, paging, bad input, access."""

import re
from datetime import timedelta

import pytest
from django.db import transaction

from accounts.services import api_token_create
from auditlog.recorder import record
from core.context import Actor
from core.tenancy import tenant
from tests.auditlog.api_helpers import (
    ADMIN_IP,
    AGENT_IP,
    at,
    bearer,
    build_world,
    events_of,
    get_json,
    list_ids,
    newest_first_ids,
    search_blob,
)


@pytest.fixture
def world(db):
    return build_world()


def berlin_midnight(day: str):
    # Berlin is UTC+1 in early March.
    return at(f"{day}T00:00:00") - timedelta(hours=1)


def cases(w):
    """(params, predicate over AuditEvent): the test's own reading of SPEC section 5."""
    admin, agent, token = str(w.admin.pk), str(w.agent.pk), str(w.token.pk)
    return [
        ({}, lambda e: True),
        ({"start": "2025-03-02"}, lambda e: e.occurred_at >= berlin_midnight("2025-03-02")),
        ({"end": "2025-03-01"}, lambda e: e.occurred_at < berlin_midnight("2025-03-02")),
        (
            {"start": "2025-03-01", "end": "2025-03-01"},
            lambda e: (
                berlin_midnight("2025-03-01") <= e.occurred_at < berlin_midnight("2025-03-02")
            ),
        ),
        (
            {"start": "2025-03-01T23:30:00Z", "end": "2025-03-05T12:00:00+00:00"},
            lambda e: at("2025-03-01T23:30:00") <= e.occurred_at <= at("2025-03-05T12:00:00"),
        ),
        # No offset: the organisation's time zone (13:00 Berlin is 12:00 UTC).
        ({"start": "2025-03-05T13:00:00"}, lambda e: e.occurred_at >= at("2025-03-05T12:00:00")),
        *[
            ({"event_type": t}, lambda e, t=t: e.event_type == t)
            for t in (
                "authorization",
                "billing",
                "settings",
                "work_session",
                "conversation",
                "customer",
            )
        ],
        ({"event_type": "settings,billing"}, lambda e: e.event_type in ("settings", "billing")),
        *[
            ({"action": a}, lambda e, a=a: e.action == a)
            for a in ("create", "update", "login", "logout", "assign", "session_start")
        ],
        ({"section": "Business Rule"}, lambda e: e.section == "Business Rule"),
        ({"section": "User"}, lambda e: e.section == "User"),
        ({"property": "name"}, lambda e: e.property == "name"),
        ({"performed_by": admin}, lambda e: e.actor_type == "user" and e.actor_id == admin),
        ({"performed_by": agent}, lambda e: e.actor_type == "user" and e.actor_id == agent),
        (
            {"performed_by": token, "actor_type": "api"},
            lambda e: e.actor_type == "api" and e.actor_id == token,
        ),
        *[
            ({"actor_type": t}, lambda e, t=t: e.actor_type == t)
            for t in ("user", "system", "workflow", "business_rule", "queue_router", "api")
        ],
        (
            {"user": agent},
            lambda e: (
                e.event_type == "authorization"
                and e.subject_type == "user"
                and e.subject_id == agent
            ),
        ),
        *[
            ({"kind": k}, lambda e, k=k: e.event_type == "settings" and e.subject_type == k)
            for k in ("search", "shortcut", "business_rule", "support_access")
        ],
        (
            {"agent": agent},
            lambda e: e.event_type == "work_session" and e.subject_id == agent,
        ),
        ({"subject_type": "conversation"}, lambda e: e.subject_type == "conversation"),
        ({"subject_id": "42"}, lambda e: e.subject_id == "42"),
        (
            {"subject_type": "customer", "subject_id": "7"},
            lambda e: e.subject_type == "customer" and e.subject_id == "7",
        ),
        ({"ip": AGENT_IP}, lambda e: e.ip_address == AGENT_IP),
        ({"ip": ADMIN_IP}, lambda e: e.ip_address == ADMIN_IP),
        ({"q": "ärger"}, lambda e: "ärger" in search_blob(e)),
        ({"q": "VIP"}, lambda e: "vip" in search_blob(e)),
        ({"q": "zapier"}, lambda e: "zapier" in search_blob(e)),
        ({"q": "100%"}, lambda e: "100%" in search_blob(e)),
        ({"q": "10_%"}, lambda e: False),  # LIKE wildcards are literal
        ({"q": "Unavailable"}, lambda e: "unavailable" in search_blob(e)),
        # Combinations.
        (
            {"event_type": "settings", "kind": "search", "performed_by": admin},
            lambda e: (
                e.event_type == "settings"
                and e.subject_type == "search"
                and e.actor_type == "user"
                and e.actor_id == admin
            ),
        ),
        (
            {
                "event_type": "authorization",
                "user": agent,
                "ip": AGENT_IP,
                "start": "2025-03-01",
                "end": "2025-03-01",
            },
            lambda e: (
                e.event_type == "authorization"
                and e.subject_id == agent
                and e.ip_address == AGENT_IP
                and berlin_midnight("2025-03-01") <= e.occurred_at < berlin_midnight("2025-03-02")
            ),
        ),
        (
            {"event_type": "work_session", "agent": agent, "actor_type": "system"},
            lambda e: (
                e.event_type == "work_session"
                and e.subject_id == agent
                and e.actor_type == "system"
            ),
        ),
        (
            {"section": "User", "action": "update", "property": "name"},
            lambda e: e.section == "User" and e.action == "update" and e.property == "name",
        ),
        (
            {"q": "agent", "event_type": "authorization,work_session", "end": "2025-03-05"},
            lambda e: (
                "agent" in search_blob(e)
                and e.event_type in ("authorization", "work_session")
                and e.occurred_at < berlin_midnight("2025-03-06")
            ),
        ),
        (
            {"event_type": "conversation", "subject_id": "42", "actor_type": "api", "q": "urgent"},
            lambda e: (
                e.event_type == "conversation"
                and e.subject_id == "42"
                and e.actor_type == "api"
                and "urgent" in search_blob(e)
            ),
        ),
        ({"event_type": "billing", "kind": "search"}, lambda e: False),
    ]


def test_every_filter_alone_and_combined_returns_exactly_the_expected_events(world):
    client = world.admin_client()
    with tenant(world.org):
        events = world.events()
    assert len(events) > 20
    for params, wanted in cases(world):
        expected = newest_first_ids([e for e in events if wanted(e)])
        assert list_ids(client, params) == expected, params
        if params:
            # Every non-trivial filter is selective on this data, except the deliberately empty ones.
            assert len(expected) < len(events), params


def test_tokens_see_the_same_events_as_administrators(world):
    params = {"event_type": "authorization,work_session", "start": "2025-03-01"}
    admin = world.admin_client()  # signing in is itself an authorization event: do it first
    assert list_ids(bearer(world.secret), params) == list_ids(admin, params)


def test_another_organisations_events_never_appear(world):
    with tenant(world.other_org):
        foreign = {str(e.pk) for e in events_of(world.other_org)}
    assert foreign
    for client in (world.admin_client(), bearer(world.secret)):
        seen = set(list_ids(client, {}))
        assert seen and not seen & foreign
        assert not set(list_ids(client, {"q": "Globex"}))


def test_event_shape_matches_spec_section_3(world):
    status, body = get_json(
        bearer(world.secret),
        "/api/v1/audit-events/",
        {"section": "Work Session", "action": "assign"},
    )
    assert status == 200
    (event,) = body["results"]
    assert body["next"] is None and body["previous"] is None
    assert set(event) == {
        "id",
        "occurred_at",
        "event_type",
        "action",
        "section",
        "property",
        "before",
        "after",
        "performed_by",
        "subject",
        "change_id",
        "ip_address",
        "user_agent",
        "request_id",
        "metadata",
    }
    assert isinstance(event["id"], str)
    assert event["occurred_at"] == "2025-03-06T09:00:00.000000+00:00"
    assert event["performed_by"] == {"type": "queue_router", "id": None, "name": "Queue router"}
    assert event["subject"] == {"type": "user", "id": str(world.agent.pk), "name": "Robert Agent"}
    assert (event["event_type"], event["property"], event["before"], event["after"]) == (
        "work_session",
        "conversation",
        None,
        "Printer on fire",
    )
    assert event["metadata"] == {
        "load_before": 2,
        "load_after": 3,
        "capacity": 2,
        "over_capacity": True,
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", event["change_id"])

    status, one = get_json(bearer(world.secret), f"/api/v1/audit-events/{event['id']}/")
    assert status == 200 and one == event


def test_json_values_keep_their_types(world):
    _, body = get_json(
        world.admin_client(), "/api/v1/audit-events/", {"kind": "search", "property": "criteria"}
    )
    (event,) = body["results"]
    assert event["before"] is None
    assert event["after"] == {"all": [{"field": "tags", "op": "has", "value": "vip"}]}
    _, body = get_json(world.admin_client(), "/api/v1/audit-events/", {"kind": "business_rule"})
    assert [(e["before"], e["after"]) for e in body["results"]] == [(True, False)]


@pytest.fixture
def thousand(org, admin):
    """1,000 events, ten to a timestamp, so paging must break ties by id."""
    base = at("2025-06-01T00:00:00")
    with transaction.atomic():
        for i in range(1000):
            record(
                section="Session",
                action="login",
                subject_id=admin.pk,
                subject_name=f"event {i}",
                actor=Actor.for_user(admin),
                occurred_at=base + timedelta(seconds=i // 10),
            )
    return org


def test_paging_forward_then_back_over_1000_events_visits_each_once(thousand, admin_client):
    # `end` leaves out the admin's own sign-in, which is newer than the 1,000.
    params = {"section": "Session", "end": "2025-06-01", "page_size": 37}
    status, page = get_json(admin_client, "/api/v1/audit-events/", params)
    assert status == 200 and page["previous"] is None
    forward_pages = [[e["id"] for e in page["results"]]]
    while page["next"]:
        status, page = get_json(admin_client, page["next"])
        assert status == 200
        forward_pages.append([e["id"] for e in page["results"]])
    forward = [i for p in forward_pages for i in p]
    assert len(forward) == len(set(forward)) == 1000
    assert len(forward_pages) == 28 and all(len(p) == 37 for p in forward_pages[:-1])
    # Recorded in order, so newest first by (occurred_at, id) is descending id here.
    assert forward == sorted(forward, key=int, reverse=True)

    backward_pages = []
    while page["previous"]:
        status, page = get_json(admin_client, page["previous"])
        assert status == 200
        backward_pages.append([e["id"] for e in page["results"]])
    backward = [i for p in reversed(backward_pages) for i in p] + forward_pages[-1]
    assert backward == forward
    assert backward_pages[-1] == forward_pages[0]


def test_links_keep_the_filters_and_page_size(thousand, admin_client):
    _, page = get_json(
        admin_client, "/api/v1/audit-events/", {"section": "Session", "page_size": 5}
    )
    assert "section=Session" in page["next"] and "page_size=5" in page["next"]
    assert page["next"].startswith("http://testserver/api/v1/audit-events/?")


def bad(client, params) -> dict:
    response = client.get("/api/v1/audit-events/", params)
    assert response.status_code == 400, (params, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == 400 and body["error"]["message"].startswith("Invalid parameter")
    assert body["error"]["code"] == "invalid"
    assert body["error"]["param"] == next(iter(body["error"]["params"]))
    return body["error"]["params"]


def test_bad_input_answers_400_naming_the_parameter(world):
    client = world.admin_client()
    assert set(bad(client, {"event_type": "authorization,nonsense"})) == {"event_type"}
    assert "nonsense" in bad(client, {"event_type": "nonsense"})["event_type"]
    assert set(bad(client, {"start": "2025-02-30"})) == {"start"}
    assert set(bad(client, {"end": "yesterday"})) == {"end"}
    assert set(bad(client, {"start": "2025-03-05", "end": "2025-03-04"})) == {"start"}
    assert (
        "after end"
        in bad(client, {"start": "2025-03-05T00:00:00Z", "end": "2025-03-04T23:59:59Z"})["start"]
    )
    assert set(bad(client, {"page_size": 501})) == {"page_size"}
    assert set(bad(client, {"page_size": 0})) == {"page_size"}
    assert set(bad(client, {"page_size": "ten"})) == {"page_size"}
    assert set(bad(client, {"ip": "999.1.1.1"})) == {"ip"}
    assert set(bad(client, {"performed_by": "admin"})) == {"performed_by"}
    assert set(bad(client, {"user": "-3"})) == {"user"}
    assert set(bad(client, {"agent": "99999999999999999999999"})) == {"agent"}
    assert set(bad(client, {"kind": "robots"})) == {"kind"}
    assert set(bad(client, {"action": "explode"})) == {"action"}
    assert set(bad(client, {"actor_type": "alien"})) == {"actor_type"}
    assert set(bad(client, {"section": "Nope"})) == {"section"}
    assert set(bad(client, {"q": "x" * 201})) == {"q"}
    assert set(bad(client, {"q": "nul\x00byte"})) == {"q"}
    # Several problems at once are all named.
    assert set(bad(client, {"start": "x", "event_type": "y", "page_size": 900})) == {
        "start",
        "event_type",
        "page_size",
    }
    # A same-day range is fine: end covers the whole day.
    assert (
        client.get(
            "/api/v1/audit-events/", {"start": "2025-03-01", "end": "2025-03-01"}
        ).status_code
        == 200
    )


def test_extreme_but_valid_dates_are_answered_not_crashed_on(world):
    client = world.admin_client()
    for params in (
        # ISO 8601 allows offsets PostgreSQL does not; bounds are converted to UTC first.
        {"end": "1228-03-12T11:40:10.2679+22:51"},
        {"start": "0001-01-01T00:00:00+14:00"},
        {"end": "9999-12-31T23:59:59-12:00"},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-01-01"},
        {"start": "2025-03-01t00:00:00z"},
        {"start": "2025-03-01T00:00:00 01:00"},  # an unencoded "+" arrives as a space
    ):
        response = client.get("/api/v1/audit-events/", params)
        assert response.status_code == 200, (params, response.content)
    assert list_ids(client, {"start": "0001-01-01T00:00:00+14:00"}) == list_ids(client, {})
    assert list_ids(client, {"end": "0001-01-01T00:00:00+14:00"}) == []


def test_tampered_forged_and_foreign_cursors_answer_400(thousand, admin_client, other_org):
    _, page = get_json(admin_client, "/api/v1/audit-events/", {"page_size": 10})
    cursor = page["next"].split("cursor=")[1].split("&")[0]
    from urllib.parse import unquote

    cursor = unquote(cursor)
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for value in (tampered, "not-a-cursor", "eyJ0IjoiMjAyNSJ9:abc:def", "x" * 600):
        errors = bad(admin_client, {"page_size": 10, "cursor": value})
        assert set(errors) == {"cursor"}
    # A cursor made for other filters.
    errors = bad(admin_client, {"page_size": 10, "cursor": cursor, "action": "login"})
    assert "other filters" in errors["cursor"]
    # The same cursor from another organisation's administrator.
    from django.test import Client

    from accounts.models import User

    foreign = Client()
    foreign.force_login(User.all_tenants.get(email="admin@globex.test"))
    assert set(bad(foreign, {"page_size": 10, "cursor": cursor})) == {"cursor"}
    # Untampered, it works.
    assert (
        admin_client.get("/api/v1/audit-events/", {"page_size": 10, "cursor": cursor}).status_code
        == 200
    )


def test_access_administrators_and_scoped_tokens_only(world, settings):
    from django.test import Client

    from accounts.models import RoleGroup
    from accounts.services import user_create

    with tenant(world.org):
        agent = user_create(
            email="ann@zone.test",
            password="x" * 12,
            name="Ann",
            role_group=RoleGroup.objects.get(name="Agent"),
        )
        _, no_read = api_token_create(name="Writer", scopes=["customers:write"])
    agent_client = Client()
    agent_client.force_login(agent)
    response = agent_client.get("/api/v1/audit-events/")
    assert response.status_code == 403
    assert response.json()["error"]["missing_permission"] == "audit.view"

    anonymous = Client().get("/api/v1/audit-events/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert bearer("adk_nope_nope").get("/api/v1/audit-events/").status_code == 401

    response = bearer(no_read).get("/api/v1/audit-events/")
    assert response.status_code == 403
    assert response.json()["error"]["missing_scope"] == "audit:read"
    assert "audit:read" in response.json()["error"]["message"]
    response = bearer(no_read).get("/api/v1/audit-events/export.csv")
    assert (
        response.status_code == 403 and response.json()["error"]["missing_scope"] == "audit:export"
    )
    response = bearer(no_read).post(
        "/api/v1/exports/", {"format": "csv"}, content_type="application/json"
    )
    assert (
        response.status_code == 403 and response.json()["error"]["missing_scope"] == "audit:export"
    )


def test_another_organisations_event_id_answers_404(world):
    with tenant(world.other_org):
        foreign_id = events_of(world.other_org)[0].pk
    with tenant(world.org):
        own_id = world.events()[0].pk
    for client in (world.admin_client(), bearer(world.secret)):
        assert client.get(f"/api/v1/audit-events/{own_id}/").status_code == 200
        response = client.get(f"/api/v1/audit-events/{foreign_id}/")
        assert response.status_code == 404 and response.json()["status"] == 404
        for junk in ("abc", "99999999999999999999999", "0", "%C3%A4"):
            assert client.get(f"/api/v1/audit-events/{junk}/").status_code == 404
    assert bearer(world.other_secret).get(f"/api/v1/audit-events/{own_id}/").status_code == 404


def test_tokens_are_rate_limited_with_retry_after(world, settings):
    settings.API_TOKEN_RATE = "3/minute"
    with tenant(world.org):
        _, secret = api_token_create(name="Busy integration")
    client = bearer(secret)
    assert [client.get("/api/v1/audit-events/").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/api/v1/audit-events/")
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["status"] == 429
    # Budgets are per token: another token is unaffected, and so are people.
    assert bearer(world.secret).get("/api/v1/audit-events/").status_code == 200
    assert world.admin_client().get("/api/v1/audit-events/").status_code == 200
