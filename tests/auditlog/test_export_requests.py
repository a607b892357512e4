"""POST /api/v1/exports/ and its status and download endpoints, without running the worker."""

import pytest
from django.test import Client

from accounts.models import RoleGroup, User
from accounts.services import api_token_create, user_create
from auditlog.models import AuditEvent, AuditExport
from core.tenancy import tenant
from tests.auditlog.api_helpers import bearer


def start(client: Client, body) -> object:
    return client.post("/api/v1/exports/", body, content_type="application/json")


def test_starting_an_export_answers_202_and_is_recorded(org, admin_client, admin):
    response = start(
        admin_client, {"format": "csv", "filters": {"event_type": "settings", "q": "VIP"}}
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["progress"], body["download_url"], body["format"]) == (
        "pending",
        0,
        None,
        "csv",
    )
    assert body["filters"] == {"event_type": "settings", "q": "VIP"}
    assert response["Location"] == f"http://testserver/api/v1/exports/{body['id']}/"
    (event,) = AuditEvent.objects.for_org(org.pk).filter(section="Export")
    assert (event.event_type, event.action, event.property, event.after, event.subject_id) == (
        "authorization",
        "create",
        "format",
        "csv",
        body["id"],
    )
    assert (event.actor_type, event.actor_id) == ("user", str(admin.pk))
    assert event.metadata == {"filters": {"event_type": "settings", "q": "VIP"}, "delivery": "file"}

    status = admin_client.get(f"/api/v1/exports/{body['id']}/")
    assert status.status_code == 200 and status.json()["id"] == body["id"]
    not_ready = admin_client.get(f"/api/v1/exports/{body['id']}/download")
    assert not_ready.status_code == 409
    listed = admin_client.get("/api/v1/exports/").json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"format": "xml"}, {"format"}),
        ({}, {"format"}),
        ({"format": "csv", "filters": "event_type=settings"}, {"filters"}),
        ({"format": "csv", "filters": {"start": "2025-02-30"}}, {"filters.start"}),
        ({"format": "csv", "filters": {"evnt_type": "settings"}}, {"filters.evnt_type"}),
        (
            {"format": "csv", "filters": {"event_type": ["settings", "nope"]}},
            {"filters.event_type"},
        ),
        (
            {"format": "ndjson", "filters": {"start": "2025-03-02", "end": "2025-03-01"}},
            {"filters.start"},
        ),
        (["csv"], {"body"}),
    ],
)
def test_bad_export_requests_answer_400_naming_the_parameter(org, admin_client, body, names):
    response = start(admin_client, body)
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]["params"]) == names
    assert not AuditExport.objects.exists()
    assert not AuditEvent.objects.for_org(org.pk).filter(section="Export").exists()


def test_filters_may_be_lists_and_numbers(org, admin_client, admin):
    response = start(
        admin_client,
        {
            "format": "ndjson",
            "filters": {"event_type": ["settings", "billing"], "performed_by": admin.pk},
        },
    )
    assert response.status_code == 202
    assert response.json()["filters"] == {
        "event_type": "settings,billing",
        "performed_by": str(admin.pk),
    }


def test_exports_belong_to_their_organisation(org, admin_client, other_org):
    export_id = start(admin_client, {"format": "csv"}).json()["id"]
    foreign = Client()
    foreign.force_login(User.all_tenants.get(email="admin@globex.test"))
    assert foreign.get(f"/api/v1/exports/{export_id}/").status_code == 404
    assert foreign.get(f"/api/v1/exports/{export_id}/download").status_code == 404
    assert foreign.get("/api/v1/exports/").json()["results"] == []
    with tenant(other_org):
        _, secret = api_token_create(name="Globex exporter")
    assert bearer(secret).get(f"/api/v1/exports/{export_id}/").status_code == 404
    for junk in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = admin_client.get(f"/api/v1/exports/{junk}/")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"


def test_exports_need_the_export_permission_or_scope(org, admin_client):
    with tenant(org):
        read_only = RoleGroup.objects.create(name="Auditors", permissions=["audit.view"])
        auditor = user_create(email="aud@acme.test", password="x" * 12, role_group=read_only)
        _, reader = api_token_create(name="Reader", scopes=["audit:read"])
        _, exporter = api_token_create(name="Exporter", scopes=["audit:export"])
    client = Client()
    client.force_login(auditor)
    assert client.get("/api/v1/audit-events/").status_code == 200
    denied = start(client, {"format": "csv"})
    assert (
        denied.status_code == 403 and denied.json()["error"]["missing_permission"] == "audit.export"
    )
    assert client.get("/api/v1/audit-events/export.csv").status_code == 403

    denied = bearer(reader).post(
        "/api/v1/exports/", {"format": "csv"}, content_type="application/json"
    )
    assert denied.status_code == 403 and denied.json()["error"]["missing_scope"] == "audit:export"
    allowed = bearer(exporter).post(
        "/api/v1/exports/", {"format": "csv"}, content_type="application/json"
    )
    assert allowed.status_code == 202
    (event,) = AuditEvent.objects.for_org(org.pk).filter(section="Export")
    assert (event.actor_type, event.actor_name) == ("api", "Exporter")
    # An export scope alone does not read the log page by page.
    assert bearer(exporter).get("/api/v1/audit-events/").status_code == 403
