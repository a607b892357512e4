"""API token scopes (SPEC §8.2) on every API: a token does only what its scopes name.

Attacked as an integration holding one scope would: every other endpoint answers 403 naming
the scope it lacks, and nothing changes. Signed-in people keep their role permissions.
"""

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from accounts.api_access import ScopeOrPermission
from accounts.models import ApiToken, RoleGroup
from accounts.services import role_group_update
from conversations import services
from conversations.models import Conversation, Customer
from tests.conversations.conftest import token_client

SPEC_SCOPES = {
    "customers:read",
    "customers:write",
    "conversations:read",
    "conversations:write",
    "audit:read",
    "audit:export",
    "audit:streams",
}


@pytest.fixture
def conversation(org: Any, customer: Customer) -> Conversation:
    return services.conversation_create(customer=customer, subject="Parcel lost")


def calls(customer: Customer, conversation: Conversation) -> list[tuple[str, str, Any, str]]:
    """(method, url, body, the one scope that allows it) for every kind of API call."""
    return [
        ("GET", "/api/v1/customers/", None, "customers:read"),
        ("GET", f"/api/v1/customers/{customer.pk}/", None, "customers:read"),
        ("POST", "/api/v1/customers/", {"name": "Ada"}, "customers:write"),
        ("PATCH", f"/api/v1/customers/{customer.pk}/", {"phone": "1"}, "customers:write"),
        ("GET", "/api/v1/conversations/", None, "conversations:read"),
        ("GET", f"/api/v1/conversations/{conversation.pk}/", None, "conversations:read"),
        (
            "POST",
            "/api/v1/conversations/",
            {"customer": customer.pk, "subject": "New"},
            "conversations:write",
        ),
        (
            "PATCH",
            f"/api/v1/conversations/{conversation.pk}/",
            {"priority": "high"},
            "conversations:write",
        ),
        ("GET", "/api/v1/audit-events/", None, "audit:read"),
        ("GET", "/api/v1/audit-integrity/", None, "audit:read"),
        ("GET", "/api/v1/audit-events/export.ndjson", None, "audit:export"),
        ("GET", "/api/v1/exports/", None, "audit:export"),
        ("POST", "/api/v1/exports/", {"format": "csv"}, "audit:export"),
    ]


def call(client: Client, method: str, url: str, body: Any) -> Any:
    if body is None:
        return client.generic(method, url)
    return client.generic(method, url, json.dumps(body), content_type="application/json")


# A write scope includes reading its own resource (a write answers the object written).
INCLUDES = {"customers:write": {"customers:read"}, "conversations:write": {"conversations:read"}}


@pytest.mark.parametrize("scope", sorted(SPEC_SCOPES))
def test_a_token_with_one_scope_calls_only_what_that_scope_allows(
    org, customer, conversation, scope
):
    client = token_client(org, f"Only {scope}", scopes=[scope])
    allowed = {scope} | INCLUDES.get(scope, set())
    for method, url, body, needed in calls(customer, conversation):
        response = call(client, method, url, body)
        if needed in allowed:
            assert response.status_code in (200, 201, 202), (method, url, response.content)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
            assert response.json()["error"]["missing_scope"] == needed, (method, url)
            assert needed in response.json()["error"]["message"]


def test_an_audit_token_reads_no_customer_or_conversation(org, customer, conversation):
    client = token_client(org, "SIEM", scopes=["audit:read", "audit:export"])
    for url in (
        "/api/v1/customers/",
        f"/api/v1/customers/{customer.pk}/",
        "/api/v1/customers/?email=grace@example.com",
        "/api/v1/conversations/",
        f"/api/v1/conversations/{conversation.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Grace" not in response.content.decode() and "Parcel" not in (
            response.content.decode()
        )


def test_a_read_token_changes_nothing(org, customer, conversation):
    client = token_client(org, "Reader", scopes=["customers:read", "conversations:read"])
    assert client.delete(f"/api/v1/customers/{customer.pk}/").json()["error"]["missing_scope"] == (
        "customers:write"
    )
    refused = client.put(
        f"/api/v1/conversations/{conversation.pk}/",
        json.dumps({"customer": customer.pk, "subject": "Taken over"}),
        content_type="application/json",
    )
    assert (
        refused.status_code == 403
        and refused.json()["error"]["missing_scope"] == "conversations:write"
    )
    assert Customer.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.subject == "Parcel lost"


def test_people_keep_their_role_permissions(org, agent, agent_client, customer):
    assert agent_client.get("/api/v1/customers/").status_code == 200
    assert agent_client.get("/api/v1/conversations/").status_code == 200
    role_group_update(group=RoleGroup.objects.get(name="Agent"), permissions=[])
    agent.refresh_from_db()
    refused = agent_client.get("/api/v1/customers/")
    assert refused.status_code == 403
    assert refused.json()["error"]["missing_permission"] == "conversations.work"


def _api_views(patterns: list, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _api_views(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and "api/v1/" in route:
            found.append((route, pattern.callback))
    return found


def test_every_api_endpoint_needs_a_spec_scope_for_every_method():
    views = _api_views(get_resolver().url_patterns)
    assert len(views) >= 10
    for route, callback in views:
        view_class = getattr(callback, "cls", None)
        assert view_class is not None and issubclass(view_class, APIView), route
        assert ScopeOrPermission in view_class.permission_classes, route
        actions = getattr(callback, "actions", None)
        methods = actions.keys() if actions else view_class().allowed_methods
        for method in {method.upper() for method in methods} - {"OPTIONS", "HEAD"}:
            kind = "read_scope" if method == "GET" else "write_scope"
            scope = getattr(view_class, kind, None) or getattr(view_class, "required_scope", None)
            assert scope in SPEC_SCOPES, (route, method)


def test_the_openapi_schema_names_each_operations_scope(db):
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    operations = {
        (path, method): operation
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }
    expected = {
        ("/api/v1/customers/", "get"): "customers:read",
        ("/api/v1/customers/", "post"): "customers:write",
        ("/api/v1/conversations/{id}/", "get"): "conversations:read",
        ("/api/v1/conversations/{id}/", "delete"): "conversations:write",
        ("/api/v1/audit-events/", "get"): "audit:read",
        ("/api/v1/exports/", "post"): "audit:export",
    }
    for key, scope in expected.items():
        assert operations[key]["x-token-scope"] == scope, key
        assert f"`{scope}` scope" in operations[key]["description"], key
    assert (
        "`conversations.work` permission"
        in operations[("/api/v1/customers/", "get")]["description"]
    )
    for (path, method), operation in operations.items():
        if path.startswith("/api/v1/"):
            assert operation.get("x-token-scope") in SPEC_SCOPES, (path, method)


def test_tokens_can_be_given_every_spec_scope(org, capsys):
    assert set(ApiToken.SCOPES) == SPEC_SCOPES
    call_command(
        "create_api_token",
        org=org.pk,
        name="Stream reader",
        scope=["customers:read", "audit:streams"],
    )
    token = ApiToken.objects.get(name="Stream reader")
    assert token.scopes == ["audit:streams", "customers:read"]
    assert capsys.readouterr().out.startswith("adk_")
