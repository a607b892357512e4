"""Background export limits per organisation (at once, per 24 hours, on disk) and expiry.

Attacked as an organisation flooding POST /api/v1/exports/ would: over a limit the answer is
429 with Retry-After and a message naming the limit, and nothing is created or recorded.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.models import Organization, User
from accounts.services import api_token_create
from audit_read.exports import export_path, exports_delete_expired_task
from auditlog.models import AuditEvent, AuditExport
from core.tenancy import tenant
from tests.auditlog.api_helpers import bearer

Status = AuditExport.Status


def start(client: Client) -> Any:
    return client.post("/api/v1/exports/", {"format": "csv"}, content_type="application/json")


def finished(org: Organization, *, size: int, expires_in: timedelta, **fields: Any) -> AuditExport:
    """A finished export of `size` bytes with its file on disk, as the worker leaves it."""
    with tenant(org):
        export = AuditExport.objects.create(
            format="csv",
            requested_by="Acme Admin",
            status=Status.DONE,
            progress=100,
            size_bytes=size,
            finished_at=timezone.now(),
            expires_at=timezone.now() + expires_in,
            **fields,
        )
        export.file_name = f"{export.pk}.csv"
        export.save(update_fields=["file_name"])
    path = export_path(export)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return export


def export_records(org: Organization) -> int:
    return AuditEvent.objects.for_org(org.pk).filter(section="Export").count()


def assert_refused(response: Any, limit: str, setting: str) -> int:
    assert response.status_code == 429, response.content
    body = response.json()
    assert body["error"]["limit"] == limit and body["error"]["code"] == "export_quota"
    assert setting in body["error"]["message"]
    retry_after = int(response["Retry-After"])
    assert retry_after >= 1
    return retry_after


@pytest.fixture(autouse=True)
def _exports_on_disk_here(settings: Any, tmp_path: Path) -> None:
    settings.EXPORT_DIR = tmp_path / "exports"


def test_concurrent_exports_are_capped_per_organisation(org, admin_client, settings):
    settings.EXPORT_MAX_CONCURRENT = 2
    accepted = [start(admin_client) for _ in range(2)]
    assert [response.status_code for response in accepted] == [202, 202]

    refused = start(admin_client)
    assert_refused(refused, "concurrent_exports", "EXPORT_MAX_CONCURRENT")
    assert "2 pending or running" in refused.json()["error"]["message"]
    _, secret = api_token_create(name="Exporter", scopes=["audit:export"])
    assert_refused(start(bearer(secret)), "concurrent_exports", "EXPORT_MAX_CONCURRENT")
    assert AuditExport.objects.count() == 2
    assert export_records(org) == 2

    # A finished (or failed) export frees its place.
    AuditExport.objects.filter(pk=accepted[0].json()["id"]).update(status=Status.FAILED)
    assert start(admin_client).status_code == 202


def test_exports_are_capped_per_24_hours_until_the_oldest_is_a_day_old(org, admin_client, settings):
    settings.EXPORT_MAX_PER_DAY = 3
    for _ in range(3):
        response = start(admin_client)
        assert response.status_code == 202
        AuditExport.objects.filter(pk=response.json()["id"]).update(status=Status.FAILED)
    now = timezone.now()
    oldest, *_ = AuditExport.objects.order_by("created_at")
    AuditExport.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(hours=23))

    retry_after = assert_refused(start(admin_client), "daily_exports", "EXPORT_MAX_PER_DAY")
    assert 3590 <= retry_after <= 3610  # when the oldest of the three turns 24 hours old
    assert AuditExport.objects.count() == 3 and export_records(org) == 3

    AuditExport.objects.filter(pk=oldest.pk).update(created_at=now - timedelta(hours=25))
    assert start(admin_client).status_code == 202


def test_finished_files_are_capped_on_disk_until_they_expire(org, admin_client, settings):
    settings.EXPORT_MAX_DISK_BYTES = 1000
    finished(org, size=600, expires_in=timedelta(hours=1))
    finished(org, size=600, expires_in=timedelta(hours=2))

    retry_after = assert_refused(start(admin_client), "export_disk_bytes", "EXPORT_MAX_DISK_BYTES")
    assert 3590 <= retry_after <= 3610  # the first to expire frees enough
    assert AuditExport.objects.count() == 2 and export_records(org) == 0


def test_one_organisations_exports_do_not_count_against_another(
    org, admin_client, other_org, settings
):
    settings.EXPORT_MAX_CONCURRENT = 1
    settings.EXPORT_MAX_DISK_BYTES = 1000
    with tenant(other_org):
        AuditExport.objects.create(format="csv", requested_by="Globex Admin")
    finished(other_org, size=5000, expires_in=timedelta(hours=1))
    assert start(admin_client).status_code == 202
    foreign = Client()
    foreign.force_login(User.all_tenants.get(email="admin@globex.test"))
    assert_refused(start(foreign), "concurrent_exports", "EXPORT_MAX_CONCURRENT")


def test_the_beat_task_deletes_expired_files_and_frees_the_disk_limit(
    org, admin_client, other_org, settings
):
    settings.EXPORT_MAX_DISK_BYTES = 1000
    expiring = finished(org, size=1200, expires_in=timedelta(minutes=5))
    kept = finished(org, size=10, expires_in=timedelta(hours=5))
    foreign_expired = finished(other_org, size=10, expires_in=-timedelta(minutes=1))
    assert_refused(start(admin_client), "export_disk_bytes", "EXPORT_MAX_DISK_BYTES")

    AuditExport.all_tenants.filter(pk=expiring.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert exports_delete_expired_task.apply().get() == 2

    assert not export_path(expiring).exists() and not export_path(foreign_expired).exists()
    assert export_path(kept).read_bytes() == b"x" * 10
    statuses = dict(AuditExport.all_tenants.values_list("pk", "status"))
    assert statuses == {
        expiring.pk: Status.EXPIRED,
        kept.pk: Status.DONE,
        foreign_expired.pk: Status.EXPIRED,
    }
    assert admin_client.get(f"/api/v1/exports/{expiring.pk}/download").status_code == 410
    assert start(admin_client).status_code == 202
    # The task runs at least hourly, so expired files never linger for long.
    schedule = django_settings.CELERY_BEAT_SCHEDULE["audit-exports-delete-expired"]
    assert schedule["task"] == "auditlog.exports_delete_expired"
    assert schedule["schedule"] <= timedelta(hours=1)
