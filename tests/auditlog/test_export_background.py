"""Background exports through a real Celery worker over real Redis: 200,000 events, progress, access.

The 200,000 rows are generated inside PostgreSQL by bench/synthetic_events.py (the
benchmark fixture loader): the recorder's write path is tested elsewhere, and this test
is about reading and exporting at volume.
"""

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from audit_read.exports import exports_delete_expired_task
from auditlog.models import AuditEvent, AuditExport
from bench.synthetic_events import insert_synthetic_events
from config.celery import app
from core.tenancy import tenant
from tests.conftest import make_org

VOLUME = 200_000


def signed_in(email: str) -> Client:
    client = Client()
    client.force_login(User.all_tenants.get(email=email))
    return client


def wait_for(client: Client, url: str, seconds: float = 120) -> tuple[dict, list[int]]:
    """Poll an export until it ends; returns its last state and every progress value seen."""
    seen: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if not seen or seen[-1] != body["progress"]:
            seen.append(body["progress"])
        if body["status"] in ("done", "failed"):
            return body, seen
        time.sleep(0.02)
    raise AssertionError(f"export did not finish in {seconds}s: {body}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_background_export_of_200000_events(settings, tmp_path):
    settings.EXPORT_DIR = tmp_path
    acme = make_org("Bulk Acme", "admin@bulk-acme.test")
    make_org("Bulk Globex", "admin@bulk-globex.test")
    # Row-level security admits rows of the session's organisation only.
    with tenant(acme), connection.cursor() as cursor:
        insert_synthetic_events(
            cursor, org_id=acme.pk, count=VOLUME, newest=timezone.now() - timedelta(minutes=1)
        )
    admin = signed_in("admin@bulk-acme.test")
    foreign = signed_in("admin@bulk-globex.test")

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        response = admin.post(
            "/api/v1/exports/",
            {
                "format": "ndjson",
                "filters": {
                    "subject_type": None,
                    "event_type": "authorization,settings,work_session,conversation,customer,billing",
                },
            },
            content_type="application/json",
        )
        assert response.status_code == 202, response.content
        created = response.json()
        assert (created["status"], created["progress"], created["download_url"]) == (
            "pending",
            0,
            None,
        )
        status_url = f"/api/v1/exports/{created['id']}/"
        assert response["Location"].endswith(status_url)
        final, progress = wait_for(admin, status_url)

    assert final["status"] == "done", final
    # Every event type was asked for: the export holds the whole log, its own record included.
    with tenant(acme):
        expected_ids = {
            str(pk) for pk in AuditEvent.objects.for_org(acme.pk).values_list("pk", flat=True)
        }
    assert progress[0] == 0 and progress[-1] == 100
    assert progress == sorted(progress)
    assert final["rows_written"] == final["rows_expected"] == len(expected_ids) >= VOLUME

    # Another organisation's administrator cannot see it or download it.
    download = final["download_url"]
    assert download.endswith(f"/api/v1/exports/{created['id']}/download")
    assert foreign.get(status_url).status_code == 404
    assert foreign.get(download).status_code == 404

    response = admin.get(download)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    body = b"".join(response.streaming_content)
    assert len(body) == final["size_bytes"]
    ids = [json.loads(line)["id"] for line in body.decode("utf-8").splitlines()]
    assert len(ids) == len(set(ids)) and set(ids) == expected_ids

    with tenant(acme):
        (record,) = AuditEvent.objects.for_org(acme.pk).filter(section="Export")
    assert (record.event_type, record.action, record.after, record.subject_id) == (
        "authorization",
        "create",
        "ndjson",
        created["id"],
    )
    assert record.metadata["filters"] == {
        "event_type": "authorization,settings,work_session,conversation,customer,billing"
    }

    # Expiry: the link stops working and the daily task deletes the file.
    path = Path(tmp_path) / str(acme.pk) / f"{created['id']}.ndjson"
    assert path.exists()
    AuditExport.all_tenants.filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert admin.get(download).status_code == 410
    assert admin.get(status_url).json()["download_url"] is None
    assert exports_delete_expired_task.apply().get() == 1
    assert not path.exists()
    assert admin.get(status_url).json()["status"] == "expired"
    assert admin.get(download).status_code == 410
