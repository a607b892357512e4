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

import psycopg

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=25, help="per operation")
    parser.add_argument("--timeout", type=int, default=420, help="seconds for the whole run")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auditdesk")
    db_name = os.environ.get("SCHEMATHESIS_DATABASE") or (
        os.environ.get("TEST_DATABASE_NAME", "auditdesk") + "_schemathesis"
    )
    server_root = base_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server_root}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')

    export_dir = ROOT / "var" / f"{db_name}-exports"
    env = {
        **os.environ,
        "DATABASE_URL": f"{server_root}/{db_name}",
        "DEBUG": "false",
        "API_TOKEN_RATE": "1000000/minute",  # the run itself must not be throttled
        "EXPORT_DIR": str(export_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings"),
    }
    server = None
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
            return subprocess.run(command, cwd=scratch, env=env, timeout=args.timeout).returncode  # noqa: S603
        except subprocess.TimeoutExpired:
            print(f"schemathesis did not finish within {args.timeout}s", file=sys.stderr)
            return 1
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(export_dir, ignore_errors=True)
        if not args.keep_db:
            with psycopg.connect(f"{server_root}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
