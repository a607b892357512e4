"""End-to-end check that scripts/devservices.py starts, reports and stops its own PostgreSQL and Redis."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "devservices.py"
RUNTIME_ROOT = Path("/tmp")  # noqa: S108 - where devservices.py keeps its data dirs


def free_ports(count: int) -> list[int]:
    # Hold every socket until all are bound so the kernel cannot hand out the same port twice.
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def redis_ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64)


def select_one(database_url: str) -> str:
    try:
        import psycopg
    except ImportError:
        psql = shutil.which("psql") or next(iter(glob.glob("/usr/lib/postgresql/*/bin/psql")), None)
        if psql is None:
            pytest.fail("neither psycopg nor psql is available to check the database")
        result = subprocess.run(
            [psql, database_url, "-X", "-tA", "-c", "select 1"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return result.stdout.strip()
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        return str(conn.execute("select 1").fetchone()[0])


def devservices(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,  # generous because a truly fresh machine may apt-get install first
        check=False,
    )


@pytest.mark.slow
def test_up_starts_own_servers_and_down_stops_them() -> None:
    pg_port, redis_port = free_ports(2)
    ports = ["--pg-port", str(pg_port), "--redis-port", str(redis_port)]
    try:
        up = devservices("up", *ports)
        assert up.returncode == 0, up.stderr
        database_url = f"postgres://postgres@127.0.0.1:{pg_port}/auditdesk"
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        assert up.stdout.splitlines() == [
            f"export DATABASE_URL={database_url}",
            f"export REDIS_URL={redis_url}",
        ]
        assert select_one(database_url) == "1"
        assert redis_ping(redis_port).startswith(b"+PONG")

        again = devservices("up", *ports)
        assert again.returncode == 0, again.stderr
        assert again.stdout == up.stdout

        status = devservices("status", *ports)
        assert status.returncode == 0, status.stderr
        assert status.stdout.count("(started by devservices") == 2
    finally:
        down = devservices("down", *ports)
        shutil.rmtree(RUNTIME_ROOT / f"auditdesk-pg-{pg_port}", ignore_errors=True)
        shutil.rmtree(RUNTIME_ROOT / f"auditdesk-redis-{redis_port}", ignore_errors=True)

    assert down.returncode == 0, down.stderr
    assert not answers(pg_port)
    assert not answers(redis_port)
    assert not (REPO_ROOT / ".devservices" / f"state-{pg_port}-{redis_port}.json").exists()
