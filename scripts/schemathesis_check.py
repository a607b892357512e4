"""Run schemathesis against the live API: fails on any 5xx or any response that breaks the schema.

Creates a throwaway database, migrates it, seeds an organisation with a few events and an
API token (through the real management commands), serves the app with gunicorn on a free
port, points schemathesis at /api/schema/ with the token, and cleans everything up.
Bounded: a fixed number of examples per operation and an overall timeout.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_APP_URL = "postgres://auditdesk_web@127.0.0.1:5432/auditdesk"
DEFAULT_OWNER_URL = "postgres://auditdesk_owner@127.0.0.1:5432/auditdesk"
VENV_BIN = Path(sys.executable).parent
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "ignored_auth",
    )
)


def with_database(url: str, name: str) -> str:
    """The URL with its database name replaced (login, host, port and query kept)."""
    return urlsplit(url)._replace(path="/" + quote(name, safe="")).geturl()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"manage.py {args[0]} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )
    return result.stdout.strip()


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our local server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"the server did not answer {url} within {seconds}s")


def print_server_errors(log: "IO[bytes]", limit: int = 3000) -> None:
    """The server's errors (5xx tracebacks), not its WARNING line per 4xx, after the report."""
    log.seek(0)
    lines = log.read().decode(errors="replace").splitlines()
    errors = [line for line in lines if " WARNING " not in line]
    text = "\n".join(errors)[-limit:]
    print(
        f"\ngunicorn: {len(lines) - len(errors)} warning lines (4xx) not shown; other output:\n"
        + (text or "(none)"),
        file=sys.stderr,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25, help="per operation")
    parser.add_argument("--timeout", type=int, default=420, help="seconds for the whole run")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    # Two logins (docs/trust.md): the owner's creates, migrates and drops the throwaway
    # database; gunicorn serves the API through the application's restricted login.
    app_url = os.environ.get("DATABASE_URL") or DEFAULT_APP_URL
    owner_url = os.environ.get("DATABASE_OWNER_URL") or (
        os.environ.get("DATABASE_URL") or DEFAULT_OWNER_URL
    )
    db_name = os.environ.get("SCHEMATHESIS_DATABASE") or (
        os.environ.get("TEST_DATABASE_NAME", "auditdesk") + "_schemathesis"
    )
    maintenance = with_database(owner_url, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')

    export_dir = ROOT / "var" / f"{db_name}-exports"
    digest_dir = ROOT / "var" / f"{db_name}-digests"
    env = {
        **os.environ,
        "DATABASE_URL": with_database(app_url, db_name),
        "DATABASE_OWNER_URL": with_database(owner_url, db_name),
        "DEBUG": "false",
        "API_TOKEN_RATE": "1000000/minute",  # the run itself must not be throttled
        "EXPORT_DIR": str(export_dir),
        # Its signed digests (if anything seals) stay apart from the dev database's.
        "AUDIT_DIGEST_DIR": str(digest_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
    }
    server = None
    server_log = tempfile.TemporaryFile()
    try:
        manage(env, "migrate", "--noinput", "-v0")
        org_id = manage(
            env,
            "create_org",
            "--name",
            "Schemathesis Org",
            "--admin-email",
            "admin@schemathesis.test",
            "--admin-password",
            "schemathesis-password",
        ).splitlines()[-1]
        for n in range(3):  # a few real events to list and export
            manage(
                env,
                "create_user",
                "--org",
                org_id,
                "--email",
                f"agent{n}@schemathesis.test",
                "--password",
                "schemathesis-password",
                "--role",
                "Agent",
            )
        token = manage(
            env, "create_api_token", "--org", org_id, "--name", "Schemathesis"
        ).splitlines()[-1]

        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own gunicorn
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--timeout",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            # The app's log (a WARNING per 4xx, thousands of them) goes to a file: printed
            # after schemathesis' report it would push that report out of any tail.
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        schema_url = f"http://127.0.0.1:{port}/api/schema/"
        wait_until_up(schema_url, server)
        command = [
            str(VENV_BIN / "schemathesis"),
            "run",
            schema_url,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            str(args.max_examples),
            "--phases",
            "examples,coverage,fuzzing",
            # One worker: Python 3.11's ast.parse (used by hypothesis) is not thread-safe.
            "--workers",
            "1",
            "--seed",
            "20251125",
            "--request-timeout",
            "60",
            "--generation-database",
            "none",
            "--no-color",
            "--output-sanitize",
            "true",
        ]
        print(f"schemathesis against {schema_url} ({args.max_examples} examples per operation)")
        # Its working files (.schemathesis/) go to a scratch folder, not the repository.
        scratch = tempfile.mkdtemp(prefix="schemathesis-")
        try:
            code = subprocess.run(command, cwd=scratch, env=env, timeout=args.timeout).returncode  # noqa: S603
        except subprocess.TimeoutExpired:
            print(f"schemathesis did not finish within {args.timeout}s", file=sys.stderr)
            code = 1
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if code != 0:
            print_server_errors(server_log)
        return code
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        server_log.close()
        shutil.rmtree(export_dir, ignore_errors=True)
        shutil.rmtree(digest_dir, ignore_errors=True)
        if not args.keep_db:
            with psycopg.connect(maintenance, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
