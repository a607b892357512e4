"""The customer and conversation REST API: token writes are performed by `api`, bad input is 4xx."""

import json

import pytest

from accounts.models import ApiToken
from conversations import services
from conversations.models import Conversation, Customer
from core.tenancy import tenant
from tests.conftest import audit_rows, compact
from tests.conversations.conftest import token_client

FIELDS = ("action", "property", "before", "after", "actor_type", "actor_id", "actor_name")


def post(client, url, data):
    return client.post(url, json.dumps(data), content_type="application/json")


def patch(client, url, data):
    return client.patch(url, json.dumps(data), content_type="application/json")


def test_token_creates_updates_and_deletes_a_customer(org):
    client = token_client(org, "CRM sync")
    api = ("api", str(ApiToken.objects.get().pk), "CRM sync")

    created = post(
        client, "/api/v1/customers/", {"name": "Ada", "email": "ada@example.com", "tags": ["VIP"]}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body | {"created_at": None} == {
        "id": body["id"],
        "name": "Ada",
        "email": "ada@example.com",
        "phone": "",
        "tags": ["vip"],
        "created_at": None,
    }
    url = f"/api/v1/customers/{body['id']}/"
    assert patch(client, url, {"phone": "+1 555 0100"}).status_code == 200
    assert client.get(url).json()["phone"] == "+1 555 0100"
    assert client.delete(url).status_code == 204

    rows = audit_rows(org, section="Customer")
    assert compact(rows, *FIELDS) == [
        ("create", "name", None, "Ada", *api),
        ("create", "email", None, "ada@example.com", *api),
        ("create", "tags", None, ["vip"], *api),
        ("update", "phone", "", "+1 555 0100", *api),
        ("delete", "name", "Ada", None, *api),
        ("delete", "email", "ada@example.com", None, *api),
        ("delete", "phone", "+1 555 0100", None, *api),
        ("delete", "tags", ["vip"], None, *api),
    ]
    assert {(row["ip_address"], row["user_agent"]) for row in rows} == {
        ("192.0.2.50", "sync-bot/2.0")
    }


def test_token_creates_and_updates_a_conversation(org, customer, agent):
    client = token_client(org, "Helpdesk sync")
    api = ("api", str(ApiToken.objects.get().pk), "Helpdesk sync")
    created = post(
        client,
        "/api/v1/conversations/",
        {
            "customer": customer.pk,
            "subject": "Where is my parcel?",
            "tags": ["shipping"],
            "queue": "Tier 1",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "open" and body["priority"] == "normal" and body["assigned_to"] is None
    url = f"/api/v1/conversations/{body['id']}/"
    updated = patch(client, url, {"status": "done", "assigned_to": agent.pk})
    assert updated.status_code == 200, updated.content
    assert updated.json()["status"] == "done"

    assert compact(audit_rows(org, section="Conversation"), *FIELDS) == [
        ("create", "subject", None, "Where is my parcel?", *api),
        ("create", "customer", None, "Grace Hopper", *api),
        ("create", "status", None, "open", *api),
        ("create", "priority", None, "normal", *api),
        ("create", "tags", None, ["shipping"], *api),
        ("create", "queue", None, "Tier 1", *api),
        ("update", "status", "open", "done", *api),
        ("update", "assigned_to", None, "Ann Agent", *api),
    ]
    (assign,) = audit_rows(org, section="Work Session", action="assign")
    assert compact([assign], *FIELDS)[0][4:] == api
    # Assigned while done: it does not count towards the agent's load.
    assert assign["metadata"] == {
        "load_before": 0,
        "load_after": 0,
        "capacity": 3,
        "over_capacity": False,
    }

    assert client.delete(url).status_code == 204
    assert not Conversation.objects.exists()


def test_session_user_may_use_the_api_and_is_the_performer(org, agent, agent_client, customer):
    response = agent_client.post(
        "/api/v1/conversations/",
        json.dumps({"customer": customer.pk, "subject": "From the browser"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert {
        (row["actor_type"], row["actor_id"]) for row in audit_rows(org, section="Conversation")
    } == {("user", str(agent.pk))}


@pytest.mark.parametrize(
    ("url", "scope", "payload"),
    [
        ("/api/v1/customers/", "customers:write", {"name": "Nope"}),
        ("/api/v1/conversations/", "conversations:write", {"subject": "Nope"}),
    ],
)
def test_token_without_the_write_scope_gets_403_naming_it(org, customer, url, scope, payload):
    client = token_client(org, "Reader", scopes=["customers:read", "conversations:read"])
    assert client.get(url).status_code == 200
    response = post(client, url, payload | {"customer": customer.pk})
    assert response.status_code == 403
    assert scope in response.json()["error"]["message"]
    assert Customer.objects.count() == 1 and not Conversation.objects.exists()


def test_another_organisations_conversation_is_404_and_unchanged(org, other_org):
    with tenant(other_org):
        foreign = services.conversation_create(
            customer=services.customer_create(name="Globex buyer"), subject="Secret"
        )
    client = token_client(org)
    url = f"/api/v1/conversations/{foreign.pk}/"
    assert client.get(url).status_code == 404
    assert patch(client, url, {"status": "done"}).status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get("/api/v1/conversations/").json()["results"] == []
    with tenant(other_org):
        assert Conversation.objects.get(pk=foreign.pk).status == "open"
    assert audit_rows(org, section="Conversation") == []


def test_another_organisations_customer_id_is_a_400_naming_the_field(org, other_org):
    with tenant(other_org):
        foreign = services.customer_create(name="Globex buyer")
    response = post(
        token_client(org), "/api/v1/conversations/", {"customer": foreign.pk, "subject": "x"}
    )
    assert response.status_code == 400
    assert "customer" in response.json()["error"]["params"]
    assert not Conversation.objects.exists()


def test_malformed_json_is_a_400_and_changes_nothing(org, customer):
    client = token_client(org)
    conversation = services.conversation_create(customer=customer, subject="Login loop")
    before = audit_rows(org)
    response = client.patch(
        f"/api/v1/conversations/{conversation.pk}/",
        '{"status": "done",',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["error"]["message"]
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert audit_rows(org) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"priority": "meh"}, "priority"),
        ({"tags": "vip"}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"assigned_to": 999999}, "assigned_to"),
        ({"subject": ""}, "subject"),
        ({"snoozed_until": "tomorrow"}, "snoozed_until"),
    ],
)
def test_invalid_values_are_400_naming_the_field_and_change_nothing(org, customer, payload, field):
    client = token_client(org)
    conversation = services.conversation_create(customer=customer, subject="Login loop")
    before = audit_rows(org)
    response = patch(client, f"/api/v1/conversations/{conversation.pk}/", payload)
    assert response.status_code == 400
    assert field in response.json()["error"]["params"]
    assert audit_rows(org) == before


def test_an_oversized_id_is_404_not_500(org):
    assert (
        token_client(org).get("/api/v1/conversations/99999999999999999999999/").status_code == 404
    )


def test_a_token_cannot_assign_beyond_capacity(org, customer, agent):
    from worksession import services as worksession

    worksession.agent_capacity_set(user=agent, capacity=0)
    response = post(
        token_client(org),
        "/api/v1/conversations/",
        {"customer": customer.pk, "subject": "x", "assigned_to": agent.pk},
    )
    assert response.status_code == 400
    assert "at capacity" in response.json()["error"]["params"]["assigned_to"]
    assert not Conversation.objects.exists()


def test_list_filters_and_pages(org, customer, agent):
    for n in range(3):
        services.conversation_create(customer=customer, subject=f"Queued {n}")
    services.conversation_create(customer=customer, subject="Mine", assigned_to=agent)
    client = token_client(org)
    unassigned = client.get("/api/v1/conversations/?unassigned=true&page_size=2").json()
    assert [c["subject"] for c in unassigned["results"]] == ["Queued 2", "Queued 1"]
    assert unassigned["next"]
    rest = client.get(unassigned["next"]).json()
    assert [c["subject"] for c in rest["results"]] == ["Queued 0"]
    assert client.get("/api/v1/conversations/?status=bogus").status_code == 400
    mine = client.get(f"/api/v1/conversations/?assigned_to={agent.pk}").json()["results"]
    assert [c["subject"] for c in mine] == ["Mine"]


def test_anonymous_requests_are_refused(db):
    from django.test import Client

    assert Client().get("/api/v1/conversations/").status_code in (401, 403)


@pytest.mark.parametrize(
    "query",
    ["customer=abc", "customer=1.5", "assigned_to=-", "priority=URGENT"],
)
def test_bad_list_filters_are_400(org, query):
    response = token_client(org).get(f"/api/v1/conversations/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()["error"]["params"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "Nul\x00byte"}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "Ok", "email": "nope"}, "email"),
        ({"name": "Ok", "tags": [None]}, "tags"),
        ({"name": "Ok", "tags": {"a": 1}}, "tags"),
    ],
)
def test_hostile_customer_input_is_400(org, payload, field):
    response = post(token_client(org), "/api/v1/customers/", payload)
    assert response.status_code == 400
    assert field in response.json()["error"]["params"]
    assert not Customer.objects.exists()


def test_a_json_body_that_is_not_an_object_is_400(org):
    client = token_client(org)
    for body in ("[]", '"text"', "null", "42"):
        response = client.post("/api/v1/customers/", body, content_type="application/json")
        assert response.status_code == 400, body
    assert not Customer.objects.exists()


def test_a_cursor_that_is_not_ours_is_a_400_naming_it(org):
    client = token_client(org, "CRM sync")
    for url in ("/api/v1/customers/", "/api/v1/conversations/"):
        response = client.get(url, {"cursor": "not-a-cursor"})
        assert response.status_code == 400, url
        assert "cursor" in response.json()["error"]["params"], url
