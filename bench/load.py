"""Concurrent-load benchmark: 50 Administrators and 10 API clients on gunicorn while 8 processes write.

On a loaded bench database (load_bench_events), this:
1. prepares (once) 50 Administrator accounts over the largest organisations, the writers'
   customers and conversations, and (each run) 10 API tokens; computes deep-page cursors;
2. serves the app with gunicorn (config/gunicorn.conf.py, DEBUG off) with the chosen
   connection handling: `--db none` (a new connection per request), `persistent`
   (CONN_MAX_AGE) or `pool` (psycopg_pool through Django 5.2's OPTIONS["pool"]);
3. starts 8 writer processes making audited changes through the services (bench/writers.py,
   paced at --writer-rate changes/s each; 0 = as fast as they can);
4. runs Locust headless (bench/locustfile.py): the Administrators sign in through the form
   and browse the Audit Log with varied filters, Older paging and deep cursors; the API
   clients page /api/v1/audit-events/ with Bearer tokens;
5. reports p50/p95/p99 per endpoint over the measured window (after sign-ins and warm-up),
   throughput, errors, the writers' audited changes/s, and the load average.
Targets at 10M events: viewer first page p95 <= 50 ms, API first page p95 <= 40 ms, 0 errors,
deep pages within 1.5x of first pages.
"""

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import (  # noqa: E402
    ROOT,
    LoadSampler,
    cpu_seconds,
    database_env,
    free_port,
    load_text,
    percentile,
    postgres_pids,
    process_tree,
    wait_for_port,
    write_json,
)
from bench._setup import use_bench_database  # noqa: E402

VIEWER = "/settings/security/audit-log/"
API = "/api/v1/audit-events/"
PASSWORD = "bench-load-password"  # noqa: S105 - throwaway benchmark accounts
# Administrators per organisation, largest first: most of them in the busiest tenants.
ADMIN_SPREAD = (20, 12, 8, 6, 4)
TOKENS_PER_ORG = (4, 2, 2, 1, 1)
TARGETS = {"viewer: first page": 50.0, "api: first page": 40.0}
DEEP_OF = {"viewer: deep page": "viewer: first page", "api: deep page": "api: first page"}


def _orgs(count: int) -> list[Any]:
    from accounts.models import Organization

    orgs = list(Organization.objects.filter(slug__startswith="bench-org-").order_by("slug"))
    if not orgs:
        raise SystemExit("no bench organisations: run load_bench_events first")
    return orgs[:count]


def prepare_accounts(administrators: int) -> list[dict[str, str]]:
    """Administrator accounts spread over the largest organisations (created once)."""
    from accounts.models import User
    from accounts.permissions import ADMINISTRATOR
    from accounts.services import role_group_for, user_create
    from core.tenancy import tenant

    orgs = _orgs(len(ADMIN_SPREAD))
    spread = [n * administrators / sum(ADMIN_SPREAD[: len(orgs)]) for n in ADMIN_SPREAD]
    accounts = []
    for position, org in enumerate(orgs):
        wanted = round(spread[position]) if position < len(orgs) - 1 else 0
        if position == len(orgs) - 1:
            wanted = administrators - len(accounts)
        with tenant(org):
            group = role_group_for(ADMINISTRATOR)
            for k in range(wanted):
                email = f"loadadmin{k}@{org.slug}.test"
                if not User.objects.filter(email=email).exists():
                    user_create(
                        email=email, password=PASSWORD, name=f"Load Admin {k}", role_group=group
                    )
                accounts.append({"email": email, "password": PASSWORD, "org": org.slug})
    return accounts[:administrators]


def prepare_tokens(clients: int) -> list[dict[str, str]]:
    """Fresh audit:read tokens (their secrets are shown once), spread like the admins."""
    from accounts.models import ApiToken
    from accounts.services import api_token_create
    from core.tenancy import tenant

    orgs = _orgs(len(TOKENS_PER_ORG))
    tokens = []
    position = 0
    while len(tokens) < clients:
        org = orgs[position % len(orgs)]
        share = TOKENS_PER_ORG[position % len(TOKENS_PER_ORG)]
        with tenant(org):
            if position < len(orgs):
                ApiToken.objects.filter(name__startswith="load bench").delete()
            for k in range(min(share, clients - len(tokens))):
                _, secret = api_token_create(
                    name=f"load bench {position}-{k}", scopes=["audit:read"]
                )
                tokens.append({"secret": secret, "org": org.slug})
        position += 1
    return tokens


def browse_plan(org: Any, days: int, depth_pages: int, page_size: int = 50) -> dict[str, Any]:
    """What an organisation's Administrators and clients browse: ids to filter on, deep cursors."""
    from django.utils import timezone

    from accounts.models import User
    from audit_read import filters, paging
    from auditlog.models import AuditEvent
    from core.tenancy import tenant

    with tenant(org):
        today = timezone.now().astimezone(org.tz).date()
        users = [str(pk) for pk in User.objects.order_by("pk").values_list("pk", flat=True)[:40]]
        events = AuditEvent.objects.for_org(org.pk)

        def subjects(event_type: str) -> list[str]:
            ids = events.filter(event_type=event_type).values_list("subject_id", flat=True)[:300]
            return sorted({i for i in ids if i})[:50] or ["1"]

        window = {"start": (today - timedelta(days=days)).isoformat(), "end": today.isoformat()}
        common = {**window, "event_type": "work_session"}
        queryset, errors = filters.filter_events(org, common)
        assert not errors, errors
        matching = queryset.count()
        key = filters.filters_key(org, common)
        available = max(1, matching // page_size - 1)
        deep_viewer, deep_api, depths = [], [], []
        for fraction in (0.5, 0.9):
            pages = max(1, min(depth_pages, int(available * fraction)))
            offset = pages * page_size
            row = queryset.values_list("occurred_at", "id")[offset - 1 : offset].first()
            if row is None:
                continue
            cursor = paging.make_cursor(AuditEvent(pk=row[1], occurred_at=row[0]), paging.NEXT, key)
            query = urlencode({**common, "cursor": cursor})
            deep_viewer.append(f"{VIEWER}?{query}")
            deep_api.append(f"{API}?{query}")
            depths.append(pages + 1)
        names = list(User.objects.order_by("pk").values_list("name", flat=True)[:5])
    return {
        "today": today.isoformat(),
        "days_ago": {str(n): (today - timedelta(days=n - 1)).isoformat() for n in (7, 30, days)},
        "users": users,
        "conversations": subjects("conversation"),
        "customers": subjects("customer"),
        "deep_viewer": deep_viewer or [f"{VIEWER}?{urlencode(common)}"],
        "deep_api": deep_api or [f"{API}?{urlencode(common)}"],
        "deep_depths": depths,
        "common_matching": matching,
        "searches": [n for n in names if n][:3] + ["Order 4242", "Customer 77"],
    }


def forget_volume_counts() -> int:
    """Start every run with the volume strip's day counts uncached (they live an hour), so
    runs compare alike; the warm-up then fills the cache as a running system's would be."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    keys = list(client.scan_iter(match="*audit-volume:*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)


def gunicorn_env(database: str, db_mode: str, pool_size: int, workers: int, threads: int) -> dict:
    env = {
        **os.environ,
        **database_env(database),  # gunicorn serves through the application's login
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "API_TOKEN_RATE": "1000000/minute",  # measure the API, not the throttle
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "DATABASE_POOL": "0",
    }
    if db_mode == "none":
        env["CONN_MAX_AGE"] = "0"
    elif db_mode == "persistent":
        env["CONN_MAX_AGE"] = "600"
    elif db_mode == "pool":
        env["CONN_MAX_AGE"] = "0"
        env["DATABASE_POOL"] = str(pool_size)
    else:
        raise SystemExit(f"unknown --db {db_mode!r}")
    return env


def summarise(raw: dict[str, Any], seconds: float) -> dict[str, dict[str, float]]:
    endpoints: dict[str, dict[str, float]] = {}
    names = set(raw["samples"]) | set(raw["failures"])
    for name in sorted(names):
        if name.startswith("sign in"):
            continue
        times = raw["samples"].get(name, [])
        failures = sum(raw["failures"].get(name, {}).values())
        endpoints[name] = {
            "requests": len(times) + failures,
            "errors": failures,
            "rps": (len(times) + failures) / seconds,
            "p50_ms": percentile(times, 50),
            "p95_ms": percentile(times, 95),
            "p99_ms": percentile(times, 99),
            "max_ms": max(times, default=0.0),
        }
    return endpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="auditdesk_bench_1m")
    parser.add_argument("--days", type=int, default=90, help="days the bench rows span")
    parser.add_argument("--administrators", type=int, default=50)
    parser.add_argument("--api-clients", type=int, default=10)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument(
        "--writer-rate", type=float, default=5.0, help="changes/s per writer; 0 = unpaced"
    )
    parser.add_argument("--duration", type=int, default=120, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=60, help="seconds after all users started")
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--admin-wait", default="2,6", help="think time between pages, s")
    parser.add_argument("--api-wait", default="1,3", help="pause between API calls, s")
    parser.add_argument("--db", default="pool", choices=("none", "persistent", "pool"))
    parser.add_argument("--pool-size", type=int, default=4, help="max connections per worker")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: config)")
    parser.add_argument("--threads", type=int, default=0, help="threads per worker (0: config)")
    parser.add_argument("--depth-pages", type=int, default=10_000)
    parser.add_argument(
        "--no-volume-strip",
        action="store_true",
        help="do not load the page's volume strip after each page (a browser does)",
    )
    parser.add_argument("--label", default="", help="free text saved with the results")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    use_bench_database(args.database)
    from django.db import connection

    from auditlog import catalog
    from bench.writers import WriterPool, prepare

    print("Preparing accounts, tokens, writers' objects and deep cursors…", flush=True)
    accounts = prepare_accounts(args.administrators)
    tokens = prepare_tokens(args.api_clients)
    prepare(args.writers)
    slugs = sorted({a["org"] for a in accounts} | {t["org"] for t in tokens})
    from accounts.models import Organization

    plans = {
        slug: browse_plan(Organization.objects.get(slug=slug), args.days, args.depth_pages)
        for slug in slugs
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'auditlog_auditevent'"
        )
        estimate = cursor.fetchone()[0]
    connection.close()

    forget_volume_counts()
    config = {
        "admins": accounts,
        "tokens": tokens,
        "orgs": plans,
        "administrators": args.administrators,
        "api_clients": args.api_clients,
        "admin_wait": [float(x) for x in args.admin_wait.split(",")],
        "api_wait": [float(x) for x in args.api_wait.split(",")],
        "event_types": list(catalog.EVENT_TYPES),
        "kinds": list(catalog.settings_kinds()),
        "volume_strip": not args.no_volume_strip,
    }
    workdir = Path(tempfile.mkdtemp(prefix="auditdesk-load-"))
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config))
    raw_path = workdir / "raw.json"

    port = free_port()
    env = gunicorn_env(args.database, args.db, args.pool_size, args.workers, args.threads)
    if not args.workers:
        env.pop("GUNICORN_WORKERS")
    if not args.threads:
        env.pop("GUNICORN_THREADS")
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "config.wsgi",
            "-c",
            str(ROOT / "config" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
    )
    pool = None
    try:
        wait_for_port(port, server)
        pool = WriterPool(
            database_env(args.database),
            writers=args.writers,
            audited=True,
            rate=args.writer_rate or None,
        )
        pool.start()
        pool.go.set()
        users = args.administrators + args.api_clients
        ramp = users / args.spawn_rate
        run_time = int(ramp + args.warmup + args.duration + 2)
        window: dict[str, Any] = {}
        groups: dict[str, Any] = {}

        def cpu_now() -> dict[str, float]:
            return {name: cpu_seconds(pids()) for name, pids in groups.items()}

        def mark(name: str, delay: float) -> None:
            time.sleep(delay)
            window[name] = (time.time(), pool.counts(), LoadSampler(), cpu_now())
            if name == "start":
                window[name][2].start()

        marks = [
            threading.Thread(target=mark, args=("start", ramp + args.warmup), daemon=True),
            threading.Thread(
                target=mark, args=("end", ramp + args.warmup + args.duration), daemon=True
            ),
        ]
        print(
            f"Locust: {args.administrators} Administrators + {args.api_clients} API clients, "
            f"{args.writers} writers at {args.writer_rate or 'max'} changes/s each, "
            f"{run_time} s ({args.duration} s measured), gunicorn db={args.db}",
            flush=True,
        )
        locust = subprocess.Popen(
            [
                str(bin_dir / "locust"),
                "-f",
                str(ROOT / "bench" / "locustfile.py"),
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                str(args.spawn_rate),
                "--run-time",
                f"{run_time}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "10",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "BENCH_LOAD_CONFIG": str(config_path),
                "BENCH_LOAD_OUT": str(raw_path),
                "BENCH_LOAD_WARMUP": str(args.warmup),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Where the machine's CPU goes while measuring (PostgreSQL: every database's).
        writer_pids = [process.pid for process in pool.processes]
        groups.update(
            {
                "gunicorn": lambda: process_tree(server.pid),
                "writers": lambda: writer_pids,
                "locust": lambda: process_tree(locust.pid),
                # Backends of the bench database only (others' work is not ours). Short-lived
                # ones (no connection reuse) end before they are sampled: undercounted then.
                "postgres": lambda: postgres_pids(args.database),
            }
        )
        for thread in marks:
            thread.start()
        output, _ = locust.communicate()
        for thread in marks:
            thread.join()
        if locust.returncode not in (0, 1) or not raw_path.exists():
            print(output[-4000:])
            raise SystemExit(f"locust failed ({locust.returncode})")
    finally:
        if pool is not None:
            pool.finish()
        server.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=20)
        if server.poll() is None:
            server.kill()

    started, (changes0, errors0), sampler, cpu0 = window["start"]
    ended, (changes1, errors1), _, cpu1 = window["end"]
    load = sampler.stop()
    # Cores' worth of CPU each part used on average over the window (2.0 = both cores).
    cpu = {name: round((cpu1[name] - cpu0[name]) / (ended - started), 2) for name in cpu0}
    raw = json.loads(raw_path.read_text())
    seconds = ended - started
    endpoints = summarise(raw, seconds)
    writers = {
        "writers": args.writers,
        "rate_per_writer": args.writer_rate or None,
        "changes": changes1 - changes0,
        "changes_per_s": (changes1 - changes0) / seconds,
        "errors": errors1 - errors0,
    }
    total_requests = sum(e["requests"] for e in endpoints.values())
    total_errors = sum(e["errors"] for e in endpoints.values())
    verdicts = {}
    for name, target in TARGETS.items():
        if name in endpoints:
            verdicts[f"{name} p95 <= {target:.0f} ms"] = endpoints[name]["p95_ms"] <= target
    for deep, first in DEEP_OF.items():
        if deep in endpoints and first in endpoints:
            verdicts[f"{deep} p95 <= 1.5x {first}"] = (
                endpoints[deep]["p95_ms"] <= 1.5 * endpoints[first]["p95_ms"]
            )
    verdicts["0 errors"] = total_errors == 0 and writers["errors"] == 0

    print()
    print(
        f"Concurrent load on {args.database} (~{estimate:,} audit rows), {seconds:.0f} s measured, "
        f"{load_text(load)}"
    )
    print(
        f"{'endpoint':28} {'requests':>8} {'req/s':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'errors':>6}"
    )
    for name, e in endpoints.items():
        print(
            f"{name:28} {e['requests']:8d} {e['rps']:6.1f} {e['p50_ms']:7.1f} {e['p95_ms']:7.1f} "
            f"{e['p99_ms']:7.1f} {e['errors']:6d}"
        )
    print(
        f"total: {total_requests / seconds:.1f} requests/s, {total_errors} errors; writers: "
        f"{writers['changes_per_s']:.0f} audited changes/s ({writers['errors']} errors)"
    )
    print("CPU used, in cores: " + ", ".join(f"{name} {value:.2f}" for name, value in cpu.items()))
    for verdict, ok in verdicts.items():
        print(f"  {verdict}: {'OK' if ok else 'MISSED'}")
    failures = {name: dict(f) for name, f in raw["failures"].items() if f}
    if failures:
        print("failures:", json.dumps(failures, indent=1)[:2000])
    write_json(
        args.json,
        {
            "benchmark": "load",
            "label": args.label,
            "database": args.database,
            "audit_rows_estimate": estimate,
            "db_mode": args.db,
            "pool_size": args.pool_size if args.db == "pool" else None,
            "gunicorn": {
                "workers": env.get("GUNICORN_WORKERS"),
                "threads": env.get("GUNICORN_THREADS"),
            },
            "administrators": args.administrators,
            "api_clients": args.api_clients,
            "admin_wait_s": config["admin_wait"],
            "volume_strip": config["volume_strip"],
            "api_wait_s": config["api_wait"],
            "seconds": seconds,
            "endpoints": endpoints,
            "requests_per_s": total_requests / seconds,
            "errors": total_errors,
            "failures": failures,
            "writers": writers,
            "deep_depths": {slug: plan["deep_depths"] for slug, plan in plans.items()},
            "verdicts": verdicts,
            "cpu_cores": cpu,
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
