"""Streamed exports: exactly the events the API lists, parseable, and safe for awkward text."""

import csv
import io
import json

import pytest

from audit_read.exports import CSV_COLUMNS
from auditlog.models import AuditEvent
from core.tenancy import tenant
from tests.auditlog.api_helpers import TRICKY_NAME, bearer, build_world, get_json, list_ids


@pytest.fixture
def world(db):
    return build_world()


def download(client, fmt: str, params: dict) -> tuple[object, bytes]:
    response = client.get(f"/api/v1/audit-events/export.{fmt}", params)
    assert response.status_code == 200, response.content
    assert response.streaming
    return response, b"".join(response.streaming_content)


def flatten(event: dict) -> dict:
    """An API event as the CSV writes it: nested objects flattened, JSON values as JSON text."""

    def text(value):
        return "" if value is None else value

    def json_text(value):
        return "" if value is None else value

    return {
        "id": event["id"],
        "occurred_at": event["occurred_at"],
        "event_type": event["event_type"],
        "action": event["action"],
        "section": event["section"],
        "property": text(event["property"]),
        "before": json_text(event["before"]),
        "after": json_text(event["after"]),
        "performed_by_type": event["performed_by"]["type"],
        "performed_by_id": text(event["performed_by"]["id"]),
        "performed_by_name": event["performed_by"]["name"],
        "subject_type": event["subject"]["type"],
        "subject_id": text(event["subject"]["id"]),
        "subject_name": event["subject"]["name"],
        "change_id": event["change_id"],
        "ip_address": text(event["ip_address"]),
        "user_agent": text(event["user_agent"]),
        "request_id": text(event["request_id"]),
        "metadata": event["metadata"],
    }


def api_events(client, params: dict) -> list[dict]:
    status, body = get_json(client, "/api/v1/audit-events/", {**params, "page_size": 500})
    assert status == 200
    events = body["results"]
    while body["next"]:
        status, body = get_json(client, body["next"])
        events += body["results"]
    return events


FILTER_SETS = [
    {},
    {"event_type": "settings,work_session"},
    {"q": "ärger"},
    {"start": "2025-03-02", "end": "2025-03-06", "actor_type": "user"},
    {"event_type": "billing", "kind": "search"},  # empty
]


@pytest.mark.parametrize("params", FILTER_SETS)
def test_csv_and_ndjson_contain_exactly_the_events_the_api_lists(world, params):
    client = bearer(world.secret)
    # Each export records itself (and includes that record when the filters match it), so
    # each is compared with the API's listing right after it.
    _, csv_bytes = download(client, "csv", params)
    events = api_events(client, params)
    ids = [e["id"] for e in events]
    assert ids == list_ids(client, params)
    rows = list(csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"), newline="")))
    assert [row["id"] for row in rows] == ids
    for row, event in zip(rows, events, strict=True):
        for name in ("before", "after", "metadata"):
            row[name] = json.loads(row[name]) if row[name] else ""
        assert row == flatten(event)

    _, ndjson_bytes = download(client, "ndjson", params)
    events = api_events(client, params)
    lines = ndjson_bytes.decode("utf-8").split("\n")
    assert lines[-1] == ""  # every line ends with a newline, including the last
    objects = [json.loads(line) for line in lines[:-1]]
    assert objects == events
    if params.get("kind") != "search":
        assert objects


def test_awkward_text_survives_both_formats(world):
    client = world.admin_client()
    params = {"kind": "search", "property": "name"}
    _, csv_bytes = download(client, "csv", params)
    _, ndjson_bytes = download(client, "ndjson", params)
    (row,) = csv.DictReader(io.StringIO(csv_bytes.decode("utf-8"), newline=""))
    assert row["subject_name"] == TRICKY_NAME
    assert json.loads(row["after"]) == TRICKY_NAME
    assert row["before"] == ""  # SQL NULL, distinct from an empty string
    (line,) = ndjson_bytes.decode("utf-8").splitlines()
    obj = json.loads(line)
    assert obj["subject"]["name"] == TRICKY_NAME and obj["after"] == TRICKY_NAME
    assert "\n" not in line and '\\"urgent\\"' in line


def test_csv_header_and_response_headers(world):
    response, body = download(world.admin_client(), "csv", {"event_type": "billing"})
    header = body.split(b"\r\n", 1)[0].decode()
    assert header.split(",") == [name for name, _ in CSV_COLUMNS]
    assert header.startswith("id,occurred_at,event_type,action,section,property,before,after,")
    assert "performed_by_type,performed_by_id,performed_by_name,subject_type,subject_id" in header
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-zone-')
    response, _ = download(world.admin_client(), "ndjson", {})
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"


def test_each_streamed_export_is_recorded(world):
    client = world.admin_client()
    download(client, "csv", {"event_type": "settings", "q": "VIP"})
    with tenant(world.org):
        (event,) = AuditEvent.objects.for_org(world.org.pk).filter(section="Export")
    assert (event.event_type, event.action, event.property, event.after) == (
        "authorization",
        "create",
        "format",
        "csv",
    )
    assert (event.actor_type, event.actor_id) == ("user", str(world.admin.pk))
    assert event.metadata == {
        "filters": {"event_type": "settings", "q": "VIP"},
        "delivery": "stream",
    }


def test_export_bad_input_is_a_json_400_whatever_the_accept_header(world):
    client = world.admin_client()
    response = client.get(
        "/api/v1/audit-events/export.csv", {"start": "2025-13-40"}, HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()["error"]["params"]) == {"start"}
    assert client.get("/api/v1/audit-events/export.xml", follow=True).status_code == 404
    with tenant(world.org):
        assert not AuditEvent.objects.for_org(world.org.pk).filter(section="Export").exists()
