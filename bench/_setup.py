"""Shared set-up for benchmarks: a separate database, migrated, with Django configured.

Two logins (docs/trust.md): the bench database is created and migrated by the schema's
owner (DATABASE_OWNER_URL); Django's default alias, which every measured path uses, is the
application's restricted login (DATABASE_URL), both pointed at the bench database.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_bench_database(
    name: str = "auditdesk_bench", migrate: bool = True, reload: bool = False
) -> None:
    """Point Django at a benchmark database (created and migrated if needed), never the dev one."""
    sys.path.insert(0, str(ROOT))
    from bench._common import database_env, ensure_database

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Measure as production runs: DEBUG would record every query in memory.
    os.environ.setdefault("DEBUG", "false")
    urls = database_env(name)
    ensure_database(name, reload=reload)
    os.environ.update(urls)
    import django

    django.setup()
    if migrate and not os.environ.get("BENCH_SKIP_MIGRATE"):
        # `migrate` runs on the owner's alias (auditlog/management/commands/migrate.py).
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
            check=True,
            env=os.environ,
        )
