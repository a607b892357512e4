"""Shared set-up for benchmarks: a separate database, migrated, with Django configured."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_bench_database(name: str = "auditdesk_bench", migrate: bool = True) -> None:
    """Point Django at a benchmark database (created and migrated if needed), never the dev one."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Measure as production runs: DEBUG would record every query in memory.
    os.environ.setdefault("DEBUG", "false")
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auditdesk")
    url = base.rsplit("/", 1)[0] + f"/{name}"
    os.environ["DATABASE_URL"] = url
    import django
    import psycopg

    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    django.setup()
    if migrate and not os.environ.get("BENCH_SKIP_MIGRATE"):
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
            check=True,
            env=os.environ,
        )
