"""Every HTML page, fed hostile query parameters, answers without a server error.

schemathesis fuzzes the API from its schema; pages have no schema, so this walks the URL
configuration for every page an Administrator can open and sends each the parameters the
pages read (and one they don't) with values that broke pages before: NUL bytes, dates out
of range, very long strings, odd unicode, numbers at the limits.
"""

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiToken, RoleGroup
from accounts.services import api_token_create
from auditlog.models import AuditEvent
from conversations.services import conversation_create, customer_create
from settings_app.services import search_create

PARAMETERS = (
    "q",
    "start",
    "end",
    "at",
    "event_type",
    "section",
    "property",
    "kind",
    "performed_by",
    "actor_type",
    "action",
    "ip",
    "subject_id",
    "subject_type",
    "user",
    "agent",
    "status",
    "assigned",
    "customer",
    "cursor",
    "page",
    "page_size",
    "sort",
    "tz",
    "day",
    "date",
    "view",
    "event",
    "compare",
    "next",
    "unknown_parameter",
)
VALUES = (
    "\x00",
    "a\x00b",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "10000-01-01",
    "2026-02-30",
    "-1",
    "99999999999999999999999999",
    "1e309",
    "x" * 10_000,
    "Zoë Ørsted – 東京 \U0001f600 \u202e",
    "\ufffe\uffff",
    "' OR 1=1 --",
    "%",
    "[]",
    "{}",
)

SKIP_PREFIXES = ("api/", "django-admin/", "accounts/logout/", "static/")


def _pages() -> list[tuple[str, Any]]:
    def walk(resolver: URLResolver, prefix: str = ""):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern)

    return [route for route in walk(get_resolver()) if not route.startswith(SKIP_PREFIXES)]


@pytest.fixture
def objects(org, admin, agent):
    customer = customer_create(name="Fuzz Customer", email="fuzz@example.test")
    conversation = conversation_create(subject="Fuzz", customer=customer)
    search = search_create(name="Fuzz search", criteria={"match": "all", "conditions": []})
    token, _ = api_token_create(name="Fuzz token", scopes=["audit:read"])
    return {
        "pk": None,
        "customer": customer.pk,
        "conversation": conversation.pk,
        "search": search.pk,
        "token": token.pk,
        "user": agent.pk,
        "role_group": RoleGroup.objects.get(name="Agent").pk,
        "agent": agent.pk,
        "token_model": ApiToken,
        "event": AuditEvent.objects.for_org(org.pk).latest("id").pk,
    }


def _url(route: str, objects: dict[str, Any]) -> str | None:
    """A concrete URL for a route, with a real id of the organisation where it takes one."""
    if "(?P" in route or "^" in route:
        return None
    ids = {
        "users/": objects["user"],
        "role-groups/": objects["role_group"],
        "api-tokens/": objects["token"],
        "searches/": objects["search"],
        "conversations/": objects["conversation"],
        "customers/": objects["customer"],
        "routing/": objects["agent"],
        "agents/": objects["agent"],
    }
    url = "/" + route
    if "<" in url:
        if "events/<str:id>" in url:
            url = url.replace("<str:id>", str(objects["event"]))
        if "history/<str:subject_type>/<int:subject_id>" in url:
            url = url.replace("<str:subject_type>", "customer").replace(
                "<int:subject_id>", str(objects["customer"])
            )
        for marker, value in ids.items():
            if marker in url:
                url = url.replace("<int:pk>", str(value)).replace("<int:agent_id>", str(value))
        if "<" in url:
            return None
    return url


# Each parameter alone with the values that broke pages before; every value in every
# parameter at once; and every combination on the richest page.
ALONE = ("a\x00b", "9999-12-31T23:59:59-23:59")
RICHEST = "/settings/security/audit-log/"


@pytest.mark.slow
def test_no_page_answers_a_server_error_to_hostile_query_parameters(admin_client, objects):
    urls = [url for route in _pages() if (url := _url(route, objects))]
    assert len(urls) > 20 and RICHEST in urls
    failures = []

    def get(url: str, params: dict[str, str]) -> None:
        response = admin_client.get(url, params)
        if response.status_code >= 500:
            shown = {k: v[:30] for k, v in params.items()}
            failures.append(f"GET {url} {shown}: {response.status_code}")

    for url in urls:
        for name in PARAMETERS:
            for value in VALUES if url == RICHEST else ALONE:
                get(url, {name: value})
        for value in VALUES:
            get(url, dict.fromkeys(PARAMETERS, value))
    assert not failures, "\n".join(failures[:50])


@pytest.mark.parametrize(
    "path",
    ["/customers/", "/conversations/", "/settings/security/audit-log/"],
)
def test_a_nul_byte_is_a_clear_400(admin_client, objects, path):
    response = admin_client.get(path, {"q": "a\x00b"})
    assert response.status_code == 400
    assert "q" in response.content.decode() and "NUL" in response.content.decode()


def test_a_date_at_the_end_of_the_calendar_on_the_volume_strip_is_clamped_not_a_500(
    admin_client, objects
):
    """A valid ISO 8601 moment whose local day overflows Python's dates (OverflowError
    before): filters clamp such moments to the end of time they passed, so does the strip."""
    response = admin_client.get(
        "/settings/security/audit-log/volume.svg", {"start": "9999-12-31T23:59:59-23:59"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    garbage = admin_client.get("/settings/security/audit-log/volume.svg", {"start": "someday"})
    assert garbage.status_code == 400


@pytest.mark.parametrize("body", ["[" * 50_000, '{"a":' * 50_000])
def test_deeply_nested_json_is_a_400_naming_the_problem(org, body):
    _, raw = api_token_create(name="Writer", scopes=["customers:write", "customers:read"])
    from django.test import Client

    response = Client().post(
        "/api/v1/customers/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 400
    assert "nested" in response.content.decode().lower()


def test_a_huge_body_is_refused_before_it_is_parsed(org):
    _, raw = api_token_create(name="Writer", scopes=["customers:write", "customers:read"])
    from django.test import Client

    response = Client().post(
        "/api/v1/customers/",
        '{"name": "' + "x" * (11 * 1024 * 1024) + '"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code in (400, 413)
