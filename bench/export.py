"""Export benchmark: 1,000,000 events through the HTTP export endpoint vs a bare COPY, same run.

Loads one organisation with a million synthetic events (once; bench/synthetic_events.py),
serves the app with gunicorn, and streams the whole log through
GET /api/v1/audit-events/export.{csv,ndjson} with an API token, interleaved with a bare
`COPY (SELECT …) TO STDOUT` of the same rows read by psycopg in this process. Prints
rows/s for both, their ratio, and the gunicorn worker's resident memory growth
(VmRSS sampled from /proc while it streams). Targets: ratio >= 0.5, growth <= 150 MB.
"""

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import LoadSampler, load_text, write_json  # noqa: E402
from bench._setup import ROOT, use_bench_database  # noqa: E402

DATABASE = "auditdesk_bench_export"
ORG_SLUG = "export-bench"
LOAD_CHUNK = 100_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


class RssSampler(threading.Thread):
    """Peak VmRSS of one process, sampled every few milliseconds."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kb(pid)
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.005)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def ensure_events(count: int) -> tuple[object, int]:
    """The benchmark organisation, loaded with at least `count` events (loaded once, reused)."""
    from django.db import connections, transaction
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import Organization
    from accounts.services import organization_create
    from auditlog.models import AuditEvent
    from auditlog.roles import owner_db, owner_mode
    from bench.synthetic_events import insert_synthetic_events
    from core.tenancy import tenant

    org = Organization.objects.filter(slug=ORG_SLUG).first()
    if org is None:
        org = organization_create(
            name="Export Bench",
            admin_email="admin@export-bench.test",
            admin_password="bench-password",
        )
        Organization.objects.filter(pk=org.pk).update(slug=ORG_SLUG)
        org.refresh_from_db()
    with tenant(org):
        synthetic = (
            AuditEvent.objects.for_org(org.pk).filter(user_agent__contains="synthetic").count()
        )
    missing = count - synthetic
    if missing > 0:
        # Loaded as the schema's owner (the bench's fixture, not the measured path), within
        # the organisation's context: row-level security admits its rows only. These rows
        # carry no MAC: the export bench reads them, it never seals them.
        newest = timezone.now() - timedelta(days=1)
        owner = connections[owner_db()]
        with tqdm(total=missing, unit="rows", desc="loading events") as bar:
            while missing > 0:
                chunk = min(LOAD_CHUNK, missing)
                with tenant(org), owner_mode(), transaction.atomic(using=owner.alias):
                    with owner.cursor() as cursor:
                        insert_synthetic_events(
                            cursor, org_id=org.pk, count=chunk, newest=newest, first=synthetic
                        )
                synthetic += chunk
                missing -= chunk
                bar.update(chunk)
        with owner.cursor() as cursor:
            cursor.execute("ANALYZE auditlog_auditevent")
    with tenant(org):
        total = AuditEvent.objects.for_org(org.pk).count()
    return org, total


def bare_copy(statement: str, org_id: int) -> tuple[int, int, float]:
    """Rows, bytes and seconds for the COPY alone, read by psycopg in this process."""
    from django.db import connection

    from audit_read.exports import prepare_reader

    prepare_reader(connection, org_id)
    rows = size = 0
    started = time.perf_counter()
    with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
        for data in copy:
            rows += 1
            size += len(data)
    return rows, size, time.perf_counter() - started


def over_http(
    port: int, token: str, fmt: str, worker: int, query: str = ""
) -> tuple[int, float, int]:
    """Bytes, seconds and the worker's peak RSS (kB) for one streamed export."""
    sampler = RssSampler(worker)
    sampler.start()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request(
        "GET",
        f"/api/v1/audit-events/export.{fmt}{query}",
        headers={"Authorization": f"Bearer {token}"},
    )
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"export answered {response.status}: {response.read()[:500]!r}")
    size = 0
    while chunk := response.read(1 << 20):
        size += len(chunk)
    seconds = time.perf_counter() - started
    connection.close()
    return size, seconds, sampler.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported"
    )
    parser.add_argument("--formats", default="csv,ndjson")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--org-slug",
        help="export this (already loaded) organisation instead of loading the export bench's",
    )
    parser.add_argument(
        "--max-events",
        type=int,
        default=0,
        help="export only the organisation's newest N events (a start filter), 0 = all",
    )
    parser.add_argument("--json", help="write the results here (for make bench's report)")
    args = parser.parse_args()

    use_bench_database(args.database)
    from tqdm import tqdm

    from accounts.models import ApiToken
    from accounts.services import api_token_create
    from audit_read.exports import copy_statement
    from audit_read.filters import filter_events
    from core.tenancy import tenant

    if args.org_slug:
        from accounts.models import Organization
        from auditlog.models import AuditEvent

        org = Organization.objects.get(slug=args.org_slug)
        with tenant(org):
            total = AuditEvent.objects.for_org(org.pk).count()
    else:
        org, total = ensure_events(args.events)
    # At 100M the largest organisation holds ~26M events: hours per pass. Its newest
    # --max-events (a `start` filter, the same rows for the endpoint and the bare COPY) keep
    # a pass to minutes; the rate per row is what is compared.
    since = None
    if args.max_events and total > args.max_events:
        from auditlog.models import AuditEvent

        with tenant(org):
            since = (
                AuditEvent.objects.for_org(org.pk)
                .newest_first()
                .values_list("occurred_at", flat=True)[args.max_events - 1]
            )
            total = AuditEvent.objects.for_org(org.pk).filter(occurred_at__gte=since).count()
        print(f"exporting the newest {total:,} events (since {since.isoformat()})", flush=True)
    filters = {"start": since.isoformat()} if since else {}
    query = "?" + urlencode(filters) if filters else ""
    with tenant(org):
        ApiToken.objects.filter(name="export bench").delete()
        _, token = api_token_create(name="export bench", scopes=["audit:read", "audit:export"])

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "API_TOKEN_RATE": "1000000/minute",
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    results: dict[str, dict[str, list[float]]] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.2)
        (worker,) = children(server.pid)
        # Warm up: load Django and the view in the worker before taking the memory baseline.
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        warm.request(
            "GET",
            "/api/v1/audit-events/export.csv?end=2000-01-01",
            headers={"Authorization": f"Bearer {token}"},
        )
        warm.getresponse().read()
        warm.close()
        baseline_kb = rss_kb(worker)

        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        sampler = LoadSampler()
        sampler.start()
        # Reference only: the same rows with no formatting at all (every column as stored).
        raw_statement = (
            f"COPY (SELECT * FROM auditlog_auditevent WHERE org_id = {int(org.pk)} "
            + (f"AND occurred_at >= '{since.isoformat()}' " if since else "")
            + "ORDER BY occurred_at DESC, id DESC) TO STDOUT (FORMAT csv)"
        )
        raw_rates: list[float] = []
        passes = tqdm(total=args.rounds * (len(formats) * 2 + 1), desc="export passes", unit="pass")
        for _ in range(args.rounds):
            rows, _size, seconds = bare_copy(raw_statement, org.pk)
            raw_rates.append(rows / seconds)
            passes.update()
            for fmt in formats:
                with tenant(org):
                    queryset, errors = filter_events(org, filters)
                    assert not errors
                    statement = copy_statement(queryset, fmt)
                result = results.setdefault(
                    fmt,
                    {
                        "copy_rows_s": [],
                        "http_rows_s": [],
                        "peak_kb": [],
                        "copy_mb_s": [],
                        "http_mb_s": [],
                    },
                )
                rows, size, seconds = bare_copy(statement, org.pk)
                result["copy_rows_s"].append(rows / seconds)
                result["copy_mb_s"].append(size / seconds / 1e6)
                passes.update()
                http_bytes, http_seconds, peak_kb = over_http(port, token, fmt, worker, query)
                # The endpoint sends the same rows (plus its own Export record and a header).
                result["http_rows_s"].append(rows / http_seconds)
                result["http_mb_s"].append(http_bytes / http_seconds / 1e6)
                result["peak_kb"].append(peak_kb)
                passes.update()
        passes.close()
        load = sampler.stop()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    print(
        f"\n{total:,} events of one organisation; median of {args.rounds} interleaved rounds "
        f"({load_text(load)})"
    )
    print(f"gunicorn worker RSS before streaming: {baseline_kb / 1024:.1f} MB")
    print(
        f"reference: unformatted COPY of the same rows {statistics.median(raw_rates):,.0f} rows/s"
    )
    verdicts = []
    summary = {}
    for fmt, result in results.items():
        copy_rate = statistics.median(result["copy_rows_s"])
        http_rate = statistics.median(result["http_rows_s"])
        ratio = http_rate / copy_rate
        growth_mb = (max(result["peak_kb"]) - baseline_kb) / 1024
        print(
            f"{fmt:>6}: bare COPY {copy_rate:>10,.0f} rows/s ({statistics.median(result['copy_mb_s']):.0f} MB/s)"
            f" | HTTP endpoint {http_rate:>10,.0f} rows/s ({statistics.median(result['http_mb_s']):.0f} MB/s)"
            f" | ratio {ratio:.2f}x | worker RSS growth {growth_mb:.1f} MB"
        )
        verdicts.append(ratio >= 0.5 and growth_mb <= 150)
        summary[fmt] = {
            "copy_rows_per_s": copy_rate,
            "http_rows_per_s": http_rate,
            "ratio": ratio,
            "rss_growth_mb": growth_mb,
        }
    print(
        "targets (endpoint >= 0.5x bare COPY, RSS growth <= 150 MB): "
        + ("met" if all(verdicts) else "NOT met")
    )
    write_json(
        args.json,
        {
            "benchmark": "export",
            "database": args.database,
            "events": total,
            "since": since.isoformat() if since else None,
            "rounds": args.rounds,
            "raw_copy_rows_per_s": statistics.median(raw_rates),
            "formats": summary,
            "worker_rss_before_mb": baseline_kb / 1024,
            "met": all(verdicts),
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
