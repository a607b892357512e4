"""`order=asc` pages the log oldest first with the same keyset cursors (which carry their
order), the index still serving it; every cursor-paged list names its neighbours in an RFC
8288 `Link` header and gives the bare next `cursor` in its body."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection, transaction

from audit_read import filters, paging
from auditlog.recorder import record
from core.context import Actor
from core.tenancy import tenant
from tests.auditlog.api_helpers import at, bearer, build_world, get_json


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def many(world):
    """300 sign-ins, ten to a timestamp, so paging must break ties by id."""
    base = at("2025-06-01T00:00:00")
    with transaction.atomic(), tenant(world.org):
        for i in range(300):
            record(
                section="Session",
                action="login",
                subject_id=world.admin.pk,
                subject_name=f"event {i}",
                actor=Actor.for_user(world.admin),
                occurred_at=base + timedelta(seconds=i // 10),
            )
    return world


PARAMS = {"section": "Session", "start": "2025-06-01", "end": "2025-06-01"}


def walk(client, params):
    status, page = get_json(client, "/api/v1/audit-events/", params)
    assert status == 200, page
    pages = [page]
    while page["cursor"]:
        # The bare cursor and the `next` link lead to the same page.
        status, by_cursor = get_json(
            client, "/api/v1/audit-events/", {**params, "cursor": page["cursor"]}
        )
        status, page = get_json(client, page["next"])
        assert status == 200 and page == by_cursor
        pages.append(page)
    return pages


def test_oldest_first_pages_through_the_range_in_ascending_order(many):
    client = bearer(many.secret)
    newest = [e["id"] for p in walk(client, {**PARAMS, "page_size": 37}) for e in p["results"]]
    oldest_pages = walk(client, {**PARAMS, "page_size": 37, "order": "asc"})
    oldest = [e["id"] for p in oldest_pages for e in p["results"]]
    assert len(oldest) == len(set(oldest)) == 300
    assert oldest == list(reversed(newest))
    times = [(e["occurred_at"], int(e["id"])) for p in oldest_pages for e in p["results"]]
    assert times == sorted(times)
    # Back again from the last page with `previous`, still oldest first on each page.
    page, back = oldest_pages[-1], []
    while page["previous"]:
        status, page = get_json(client, page["previous"])
        back = [e["id"] for e in page["results"]] + back
    assert back + [e["id"] for e in oldest_pages[-1]["results"]] == oldest


def test_a_cursor_is_valid_only_with_its_order(many):
    client = bearer(many.secret)
    _, first = get_json(client, "/api/v1/audit-events/", {**PARAMS, "page_size": 10})
    for order in ("asc", "ASC"):
        response = client.get(
            "/api/v1/audit-events/", {**PARAMS, "cursor": first["cursor"], "order": order}
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "cursor" and "order=desc" in error["params"]["cursor"]
    response = client.get("/api/v1/audit-events/", {**PARAMS, "order": "sideways"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "order"


def test_pages_carry_link_headers_and_the_bare_cursor(many):
    client = bearer(many.secret)
    first = client.get("/api/v1/audit-events/", {**PARAMS, "page_size": 100})
    body = first.json()
    assert first["Link"] == f'<{body["next"]}>; rel="next"'
    assert body["cursor"] == parse_qs(urlsplit(body["next"]).query)["cursor"][0]
    second = client.get(body["next"])
    links = second["Link"].split(", ")
    assert links == [
        f'<{second.json()["next"]}>; rel="next"',
        f'<{second.json()["previous"]}>; rel="prev"',
    ]
    last = client.get(second.json()["next"])
    assert last.json()["next"] is None and last.json()["cursor"] is None
    assert last["Link"] == f'<{last.json()["previous"]}>; rel="prev"'
    # The domain APIs and the digests page the same way.
    for index in range(3):
        client.post(
            "/api/v1/customers/",
            {"name": f"C{index}", "email": f"c{index}@example.com"},
            content_type="application/json",
        )
    customers = client.get("/api/v1/customers/", {"page_size": 2})
    assert customers.status_code == 200
    page = customers.json()
    assert page["cursor"] and customers["Link"] == f'<{page["next"]}>; rel="next"'
    following = client.get("/api/v1/customers/", {"page_size": 2, "cursor": page["cursor"]})
    assert following.status_code == 200 and following.json()["results"]
    conversations = client.get("/api/v1/conversations/")
    assert conversations.status_code == 200 and "cursor" in conversations.json()
    for fmt in ("csv", "ndjson", "csv"):
        client.post("/api/v1/exports/", {"format": fmt}, content_type="application/json")
    exports = client.get("/api/v1/exports/", {"page_size": 2})
    page = exports.json()
    assert len(page["results"]) == 2 and exports["Link"] == f'<{page["next"]}>; rel="next"'
    rest = client.get("/api/v1/exports/", {"page_size": 2, "cursor": page["cursor"]}).json()
    assert len(rest["results"]) == 1 and rest["cursor"] is None
    digests = client.get("/api/v1/audit-integrity/digests/")
    assert digests.status_code == 200 and "cursor" in digests.json()


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        return json.dumps(json.loads(queryset.explain(format="json")))


@pytest.mark.django_db(transaction=False)
def test_oldest_first_keeps_to_the_index(many):
    org = many.org
    with tenant(org):
        _check_plans(org)


def _check_plans(org):
    queryset, errors = filters.filter_events(org, PARAMS)
    assert not errors
    key = filters.filters_key(org, PARAMS)
    first = paging.keyset_page(queryset, None, 10, key, order=paging.ASC)
    cursor = first.next_cursor
    occurred_at, event_id, _ = paging.read_cursor(cursor, key, order=paging.ASC)
    later = (
        queryset.filter(occurred_at__gte=occurred_at)
        .exclude(occurred_at=occurred_at, id__lte=event_id)
        .order_by("occurred_at", "id")[:11]
    )
    with transaction.atomic():
        for plan in (_plan(queryset.order_by("occurred_at", "id")[:11]), _plan(later)):
            assert "Seq Scan" not in plan and "Index" in plan, plan
            assert '"Node Type": "Sort"' not in plan, plan
    everything = sorted(queryset.values_list("occurred_at", "id"))
    assert [e.pk for e in first.items] == [event_id for _, event_id in everything[:10]]


def test_streamed_exports_follow_the_order(many):
    client = bearer(many.secret)
    newest = [e["id"] for p in walk(client, {**PARAMS, "page_size": 500}) for e in p["results"]]
    response = client.get("/api/v1/audit-events/export.ndjson", {**PARAMS, "order": "asc"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(reversed(newest))
    response = client.get("/api/v1/audit-events/export.csv", {**PARAMS, "order": "up"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "order"
    refused = client.post(
        "/api/v1/exports/",
        {"format": "csv", "filters": {**PARAMS, "order": "up"}},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "filters.order"


def test_another_lists_cursor_is_a_400_naming_it(many):
    client = bearer(many.secret)
    for fmt in ("csv", "ndjson"):
        client.post("/api/v1/exports/", {"format": fmt}, content_type="application/json")
    cursor = client.get("/api/v1/exports/", {"page_size": 1}).json()["cursor"]
    # An export's cursor holds a time; customers and digests are ordered by numbers.
    for url in ("/api/v1/customers/", "/api/v1/audit-integrity/digests/"):
        response = client.get(url, {"cursor": cursor})
        assert response.status_code == 400, (url, response.content)
        assert response.json()["error"]["param"] == "cursor"
