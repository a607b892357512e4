"""With Redis down, people still sign in and change things and every change is recorded;
a background export asked for meanwhile waits, and finishes once Redis is back.

Redis here is a server of the test's own on a spare port (the shared one is never stopped):
the cache and the Celery broker point at it for this test.
"""

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client

from accounts.services import api_token_create
from audit_read.exports import QUEUE_WAIT, exports_enqueue_waiting
from auditlog.models import AuditExport
from config.celery import app
from core.tenancy import tenant
from tests.conftest import PASSWORD, audit_rows, compact, make_org

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs a redis-server binary")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port, self.workdir, self.process = port, workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    # Forget connections made to the previous broker.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_of_our_own(settings, tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(_free_port(), tmp_path)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    previous = app.conf.broker_url
    _use_broker(server.url)
    try:
        yield server
    finally:
        server.stop()
        _use_broker(previous)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_redis_down_people_work_everything_is_recorded_and_exports_wait(
    redis_of_our_own, settings, tmp_path
):
    settings.EXPORT_DIR = tmp_path / "exports"
    org = make_org("Outage Ltd", "admin@outage.test")
    with tenant(org):
        _, secret = api_token_create(
            name="Zapier", scopes=["customers:write", "audit:export", "audit:read"]
        )
    # Redis is not running (never started): the cache and the broker are unreachable.

    browser = Client(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="outage-test/1.0")
    signed_in = browser.post(
        "/accounts/login/", {"username": "admin@outage.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302, signed_in.content
    page = browser.post("/settings/role-groups/new/", {"name": "Night shift", "permissions": []})
    assert page.status_code == 302, page.content
    api = Client().post(
        "/api/v1/customers/",
        {"name": "Ada Outage", "email": "ada@example.test"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert api.status_code == 201, api.content

    rows = audit_rows(org, actor_type__in=["user", "api"], action__in=["login", "create"])
    assert compact(rows, "action", "section", "property", "after", "actor_type", "actor_name") == [
        ("login", "Session", None, None, "user", "Outage Ltd Admin"),
        ("create", "Role Group", "name", "Night shift", "user", "Outage Ltd Admin"),
        ("create", "Customer", "name", "Ada Outage", "api", "Zapier"),
        ("create", "Customer", "email", "ada@example.test", "api", "Zapier"),
    ]  # fmt: skip

    requested = browser.post(
        "/api/v1/exports/", {"format": "csv", "filters": {}}, content_type="application/json"
    )
    assert requested.status_code == 202, requested.content
    status_url = f"/api/v1/exports/{requested.json()['id']}/"
    waiting = browser.get(status_url).json()
    assert (waiting["status"], waiting["error"]) == ("pending", QUEUE_WAIT)

    # Redis comes back; beat's sweep sends the waiting export and a worker runs it.
    redis_of_our_own.start()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        assert exports_enqueue_waiting() == 1
        deadline = time.monotonic() + 60
        while (body := browser.get(status_url).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, body
            time.sleep(0.1)
    assert (body["status"], body["progress"], body["error"]) == ("done", 100, "")
    export = AuditExport.all_tenants.get(pk=body["id"])
    content = (settings.EXPORT_DIR / str(org.pk) / export.file_name).read_text()
    assert "Night shift" in content and "Ada Outage" in content
