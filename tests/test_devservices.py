"""End-to-end check of scripts/devservices.py on a PostgreSQL and Redis of its own (spare ports).

`up` starts both, creates the two logins of docs/trust.md and prints their URLs; a second
`up` changes nothing and adopts what an older release left owned by the superuser; `down`
stops only what `up` started.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "scripts" / "devservices.py"
RUNTIME_ROOT = Path("/tmp")  # noqa: S108 - where devservices.py keeps its data dirs
URL_VARIABLES = ("DATABASE_URL", "DATABASE_OWNER_URL", "DATABASE_ADMIN_URL", "REDIS_URL")

pytestmark = pytest.mark.slow


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


def devservices(*args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in URL_VARIABLES}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env={**env, **env_vars},
        timeout=120,  # generous because a truly fresh machine may apt-get install first
        check=False,
    )


@dataclass
class Services:
    pg_port: int
    redis_port: int
    up: subprocess.CompletedProcess[str]

    @property
    def ports(self) -> list[str]:
        return ["--pg-port", str(self.pg_port), "--redis-port", str(self.redis_port)]

    def url(self, user: str, dbname: str = "auditdesk") -> str:
        return f"postgres://{user}@127.0.0.1:{self.pg_port}/{dbname}"

    def admin(self, dbname: str = "auditdesk") -> psycopg.Connection:
        return psycopg.connect(self.url("postgres", dbname), autocommit=True, connect_timeout=5)

    def rows(self, query: str, dbname: str = "auditdesk") -> list[tuple]:
        with self.admin(dbname) as conn:
            return conn.execute(query).fetchall()


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    pg_port, redis_port = free_ports(2)
    ports = ["--pg-port", str(pg_port), "--redis-port", str(redis_port)]
    try:
        yield Services(pg_port, redis_port, devservices("up", *ports))
    finally:
        devservices("down", *ports)
        shutil.rmtree(RUNTIME_ROOT / f"auditdesk-pg-{pg_port}", ignore_errors=True)
        shutil.rmtree(RUNTIME_ROOT / f"auditdesk-redis-{redis_port}", ignore_errors=True)


def memberships(services: Services, role: str) -> list[str]:
    return [
        name
        for (name,) in services.rows(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            f" WHERE m.member = '{role}'::regrole ORDER BY 1"
        )
    ]


def database_owner(services: Services, dbname: str) -> str:
    rows = services.rows(
        f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{dbname}'"
    )
    return rows[0][0]


def test_up_prints_the_two_logins_and_redis(services: Services) -> None:
    up = services.up
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines() == [
        f"export DATABASE_URL={services.url('auditdesk_web')}",
        f"export DATABASE_OWNER_URL={services.url('auditdesk_owner')}",
        f"export REDIS_URL=redis://127.0.0.1:{services.redis_port}/0",
    ]
    for login in ("auditdesk_web", "auditdesk_owner"):
        with psycopg.connect(services.url(login), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (login,)
    assert redis_ping(services.redis_port).startswith(b"+PONG")

    status = devservices("status", *services.ports)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("(started by devservices") == 2


def test_web_login_is_restricted(services: Services) -> None:
    assert services.up.returncode == 0, services.up.stderr
    assert services.rows(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolinherit"
        " FROM pg_roles WHERE rolname = 'auditdesk_web'"
    ) == [(True, False, False, False, False, True)]
    assert memberships(services, "auditdesk_web") == ["auditdesk_app"]
    assert services.rows(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole"
        " FROM pg_roles WHERE rolname = 'auditdesk_app'"
    ) == [(False, False, False, False, False)]

    with psycopg.connect(services.url("auditdesk_web"), connect_timeout=5) as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="permission denied to set role"):
            conn.execute("SET ROLE auditdesk_owner")
        conn.rollback()
        conn.execute("SET ROLE auditdesk_app")  # its own group role is allowed
        conn.execute("RESET ROLE")
        assert conn.execute("SELECT current_user").fetchone() == ("auditdesk_web",)


def test_owner_login_owns_the_database(services: Services) -> None:
    assert services.up.returncode == 0, services.up.stderr
    assert database_owner(services, "auditdesk") == "auditdesk_owner"
    assert services.rows(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole"
        " FROM pg_roles WHERE rolname = 'auditdesk_owner'"
    ) == [(True, False, False, True, True)]
    assert "pg_read_all_stats" in memberships(services, "auditdesk_owner")


def test_up_again_adopts_an_older_release_and_is_idempotent(services: Services) -> None:
    assert services.up.returncode == 0, services.up.stderr
    # What a release that ran as the superuser left behind, and a web login that drifted.
    with services.admin("postgres") as conn:
        conn.execute("ALTER DATABASE auditdesk OWNER TO postgres")
        conn.execute("CREATE DATABASE test_auditdesk_gw0")
        conn.execute("GRANT pg_monitor TO auditdesk_web")
        conn.execute("GRANT auditdesk_app TO auditdesk_web WITH ADMIN OPTION")
        conn.execute("ALTER ROLE auditdesk_web CREATEDB")
    with services.admin() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE TABLE legacy_item (id bigserial PRIMARY KEY, name text)")
        conn.execute(
            "CREATE TABLE legacy_event (id bigint GENERATED ALWAYS AS IDENTITY, at date NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE legacy_month (id bigint NOT NULL, at date NOT NULL)"
            " PARTITION BY RANGE (at)"
        )
        conn.execute(
            "CREATE TABLE legacy_month_2026_12 PARTITION OF legacy_month"
            " FOR VALUES FROM ('2026-12-01') TO ('2027-01-01')"
        )
        conn.execute("CREATE SEQUENCE legacy_counter")
        conn.execute("CREATE VIEW legacy_names AS SELECT name FROM legacy_item")
        conn.execute("CREATE FUNCTION legacy_one() RETURNS int LANGUAGE sql AS 'SELECT 1'")

    again = devservices("up", *services.ports)
    assert again.returncode == 0, again.stderr
    assert again.stdout == services.up.stdout

    assert database_owner(services, "auditdesk") == "auditdesk_owner"
    assert database_owner(services, "test_auditdesk_gw0") == "auditdesk_owner"
    assert memberships(services, "auditdesk_web") == ["auditdesk_app"]
    assert services.rows(
        "SELECT rolcreatedb, m.admin_option FROM pg_roles r"
        " JOIN pg_auth_members m ON m.member = r.oid WHERE r.rolname = 'auditdesk_web'"
    ) == [(False, False)]
    owners = services.rows(
        "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relname LIKE 'legacy%'"
        " UNION ALL SELECT p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.proname = 'legacy_one'"
    )
    assert {name for name, _ in owners} >= {
        "legacy_item",
        "legacy_item_id_seq",
        "legacy_event",
        "legacy_event_id_seq",
        "legacy_month",
        "legacy_month_2026_12",
        "legacy_counter",
        "legacy_names",
        "legacy_one",
    }
    assert {owner for _, owner in owners} == {"auditdesk_owner"}
    # The extension's functions stay the extension's.
    assert services.rows(
        "SELECT DISTINCT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'similarity'"
    ) == [("postgres",)]
    with psycopg.connect(services.url("auditdesk_owner"), autocommit=True) as conn:
        conn.execute("ALTER TABLE legacy_item ADD COLUMN note text")
        conn.execute("DROP DATABASE test_auditdesk_gw0")

    # Once everything is in place, `up` writes nothing: the catalog rows keep their xmin.
    snapshot = (
        "SELECT 'role', rolname::text, xmin::text FROM pg_authid WHERE rolname LIKE 'auditdesk%'"
        " UNION ALL SELECT 'member', roleid::regrole::text || '>' || member::regrole::text,"
        " xmin::text FROM pg_auth_members"
        " UNION ALL SELECT 'database', datname::text, xmin::text FROM pg_database ORDER BY 1, 2"
    )
    before = services.rows(snapshot)
    third = devservices("up", *services.ports)
    assert third.returncode == 0, third.stderr
    assert third.stdout == services.up.stdout
    assert services.rows(snapshot) == before


def test_logins_given_in_the_environment_are_printed_back(services: Services) -> None:
    app_url = services.url("someone_web", "elsewhere") + "?sslmode=disable"
    owner_url = services.url("someone_owner", "elsewhere")
    up = devservices("up", *services.ports, DATABASE_URL=app_url, DATABASE_OWNER_URL=owner_url)
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[:2] == [
        f"export DATABASE_URL='{app_url}'",
        f"export DATABASE_OWNER_URL={owner_url}",
    ]
    assert services.rows("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'someone%'") == [(0,)]
    assert services.rows("SELECT count(*) FROM pg_database WHERE datname = 'elsewhere'") == [(0,)]

    half = devservices("up", *services.ports, DATABASE_OWNER_URL=owner_url)
    assert half.returncode == 1
    assert "DATABASE_OWNER_URL is set but DATABASE_URL is not" in half.stderr


def test_down_stops_only_what_up_started(services: Services) -> None:
    assert services.up.returncode == 0, services.up.stderr
    down = devservices("down", *services.ports)
    assert down.returncode == 0, down.stderr
    assert not answers(services.pg_port)
    assert not answers(services.redis_port)
    state = REPO_ROOT / ".devservices" / f"state-{services.pg_port}-{services.redis_port}.json"
    assert not state.exists()
