"""Issue 18 point 4: a client generated from /api/schema/ by openapi-python-client works.

The generator must run without warnings, every generated module must import, and the typed
client, with a real API token against a live server and a real Celery worker, pages a
filtered range to its end both ways, starts a background export and downloads it, and reads
a bad parameter as the typed error model.
"""

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import transaction

from accounts.services import api_token_create, organization_create
from auditlog.recorder import record
from config.celery import app
from core.context import Actor
from core.tenancy import tenant
from tests.auditlog.api_helpers import at
from tests.conftest import PASSWORD

PACKAGE = "auditdesk_client"
EVENTS = 130


def generate(schema: dict, where: Path) -> str:
    """The generated package's parent directory; the generator's output is checked."""
    path = where / "schema.json"
    path.write_text(json.dumps(schema))
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(  # noqa: S603 - our own virtualenv's generator, fixed arguments
        [
            str(Path(bin_dir) / "openapi-python-client"),
            "generate",
            "--path",
            str(path),
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=where,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output and "Error" not in output, output
    return str(where)


def import_every_module() -> int:
    package = importlib.import_module(PACKAGE)
    names = [m.name for m in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
    for name in names:
        importlib.import_module(name)
    return len(names)


@pytest.fixture
def generated(tmp_path, admin_client):
    response = admin_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    parent = generate(response.json(), tmp_path)
    sys.path.insert(0, parent)
    try:
        yield
    finally:
        sys.path.remove(parent)
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.mark.django_db(transaction=True)
def test_the_generated_client_pages_exports_and_reads_errors(
    generated, live_server, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    assert import_every_module() > 50

    from auditdesk_client import AuthenticatedClient
    from auditdesk_client.api.audit import audit_events_list
    from auditdesk_client.api.exports import exports_create, exports_download, exports_retrieve
    from auditdesk_client.models import (
        ApiError,
        AuditEventPage,
        AuditEventsListOrder,
        AuditEventsListSection,
        ExportRequest,
        ExportRequestFilters,
        FormatEnum,
    )

    org = organization_create(
        name="Client Co", admin_email="admin@client.test", admin_password=PASSWORD
    )
    base = at("2025-06-01T08:00:00")
    with tenant(org), transaction.atomic():
        _, secret = api_token_create(name="Generated client")
        for i in range(EVENTS):
            record(
                section="Session",
                action="login",
                subject_id="1",
                subject_name=f"event {i}",
                actor=Actor.system(),
                occurred_at=base + timedelta(seconds=i // 4),
            )
    client = AuthenticatedClient(base_url=live_server.url, token=secret)
    day = date(2025, 6, 1)

    def walk(order):
        ids, cursor, pages = [], None, 0
        while True:
            kwargs = {"cursor": cursor} if cursor else {}
            page = audit_events_list.sync(
                client=client,
                section=AuditEventsListSection.SESSION,
                start=day,
                end=day,
                order=order,
                page_size=25,
                **kwargs,
            )
            assert isinstance(page, AuditEventPage), page
            ids += [int(event.id) for event in page.results]
            pages += 1
            if not page.cursor:
                return ids, pages
            cursor = page.cursor

    newest, pages = walk(AuditEventsListOrder.DESC)
    oldest, _ = walk(AuditEventsListOrder.ASC)
    assert pages == 6 and len(newest) == len(set(newest)) == EVENTS
    assert oldest == list(reversed(newest)) == sorted(newest)

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        body = ExportRequest(
            format_=FormatEnum.NDJSON,
            filters=ExportRequestFilters.from_dict(
                {"section": "Session", "start": "2025-06-01", "end": "2025-06-01", "order": "asc"}
            ),
        )
        created = exports_create.sync_detailed(client=client, body=body, idempotency_key="k-1")
        assert created.status_code == 202, created.content
        export = created.parsed
        again = exports_create.sync(client=client, body=body, idempotency_key="k-1")
        assert again.id == export.id
        deadline = time.monotonic() + 60
        while export.status.value not in ("done", "failed"):
            assert time.monotonic() < deadline, export
            time.sleep(0.1)
            export = exports_retrieve.sync(id=export.id, client=client)
        assert export.status.value == "done" and export.rows_written == EVENTS
    download = exports_download.sync_detailed(id=export.id, client=client)
    assert download.status_code == 200
    lines = download.content.decode().splitlines()
    assert [int(json.loads(line)["id"]) for line in lines] == oldest

    # A bad parameter: an end before the start.
    error = audit_events_list.sync(client=client, start=day, end=day - timedelta(days=1))
    assert isinstance(error, ApiError), error
    assert (error.status, error.error.code, error.error.param) == (400, "invalid", "start")
    assert "start" in error.error.params.additional_properties
