"""POST /api/v1/exports/ with an Idempotency-Key: a retry answers the first export, a
different body with the same key is refused, and keys belong to their caller and last a day."""

from datetime import timedelta

from django.utils import timezone

from accounts.services import api_token_create
from auditlog.models import AuditEvent, AuditExport
from core.tenancy import tenant
from tests.auditlog.api_helpers import bearer

BODY = {"format": "ndjson", "filters": {"event_type": "settings", "order": "asc"}}


def start(client, body, key=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post("/api/v1/exports/", body, content_type="application/json", **headers)


def export_events(org) -> int:
    return AuditEvent.objects.for_org(org.pk).filter(section="Export").count()


def test_a_retry_with_the_same_key_answers_the_first_export(org):
    with tenant(org):
        _, secret = api_token_create(name="Nightly")
        _, other_secret = api_token_create(name="Other integration")
    client = bearer(secret)
    first = start(client, BODY, "nightly-2025-06-01")
    assert first.status_code == 202, first.content
    again = start(client, BODY, "nightly-2025-06-01")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert first.json()["filters"] == {"event_type": "settings", "order": "asc"}
    with tenant(org):
        assert AuditExport.objects.count() == 1
    assert export_events(org) == 1

    conflict = start(client, {**BODY, "format": "csv"}, "nightly-2025-06-01")
    assert conflict.status_code == 422
    assert conflict.json()["error"]["code"] == "idempotency_conflict"

    # Another token's key of the same text is its own; no key always starts a new export.
    other = start(bearer(other_secret), BODY, "nightly-2025-06-01")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert start(client, BODY).json()["id"] != first.json()["id"]
    with tenant(org):
        assert AuditExport.objects.count() == 3


def test_a_key_names_its_export_for_24_hours(org):
    with tenant(org):
        _, secret = api_token_create(name="Nightly")
    client = bearer(secret)
    first = start(client, BODY, "k1").json()["id"]
    with tenant(org):
        AuditExport.objects.filter(pk=first).update(
            created_at=timezone.now() - timedelta(hours=24, minutes=1)
        )
    later = start(client, {**BODY, "format": "csv"}, "k1")
    assert later.status_code == 202 and later.json()["id"] != first


def test_a_malformed_key_is_a_400_naming_the_header(org):
    with tenant(org):
        _, secret = api_token_create(name="Nightly")
    response = start(bearer(secret), BODY, "x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"
