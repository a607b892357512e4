"""Viewer benchmark: server time of the Audit Log page on a 10M-row log, first page vs 10,000
deep, and of one event's page.

Loads the benchmark database once (`load_bench_events`, in `auditdesk_bench`, never the dev
database), then, as the largest organisation's Administrator, times the page view in-process
(middleware, filters, keyset query, template: what the server spends) for the first page and
for a page DEPTH pages deep of a common filter set, the API's same two pages and the event
page of the deep page's first event, as medians of interleaved runs, and prints EXPLAIN
(ANALYZE, BUFFERS) of every audit-table query the pages issue for each filter combination and
for the event page, flagging any sequential scan of the table.
"""

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._common import LoadSampler, load_text, write_json  # noqa: E402

URL = "/settings/security/audit-log/"
EVENT_URL = URL + "events/{id}/"
API_URL = "/api/v1/audit-events/"
TABLE = "auditlog_auditevent"


def use_database(name: str, reload: bool) -> None:
    """Point Django at the benchmark database (created and migrated by the owner's login if
    needed); the page is measured through the application's login."""
    from bench._common import database_env, ensure_database

    ensure_database(name, reload=reload)
    os.environ.update(database_env(name))
    os.environ["DEBUG"] = "false"  # production template and query paths, no query log
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
        check=True,
        env=os.environ,
    )
    import django

    django.setup()


def ensure_loaded(rows: int, orgs: int, days: int) -> None:
    from django.core.management import call_command

    from bench._common import org_event_counts

    # As the owner, one organisation at a time (row-level security).
    have = sum(org_event_counts(os.environ["DATABASE_OWNER_URL"]).values())
    if have >= rows * 0.99:
        print(f"Benchmark database already holds {have:,} bench rows; not reloading.")
        return
    if have:
        sys.exit(
            f"The benchmark database holds {have:,} bench rows, not {rows:,}: "
            "run again with --reload to start from an empty database."
        )
    print(f"Loading {rows:,} rows across {orgs} organisations over {days} days…", flush=True)
    call_command("load_bench_events", rows=rows, orgs=orgs, days=days)


class SqlTimer:
    """Collects the SQL a request runs and the time spent waiting for PostgreSQL."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, Any]] = []
        self.seconds = 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries.append((sql, params))


def timed_get(client: Any, url: str) -> tuple[float, float, list, str, float]:
    """(wall ms, ms waiting on SQL, queries, body, CPU ms of this process for the request)."""
    from django.db import connection

    timer = SqlTimer()
    with connection.execute_wrapper(timer):
        cpu = time.process_time()
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:500]!r}")
    return (
        elapsed * 1000,
        timer.seconds * 1000,
        timer.queries,
        response.content.decode(),
        cpu * 1000,
    )


SEQ_SCAN = re.compile(rf"Seq Scan on ({TABLE}\w*)")


def explain(queries: list[tuple[str, Any]]) -> tuple[list[str], bool]:
    """EXPLAIN (ANALYZE, BUFFERS) of the audit-table queries; False if any scans the table.

    A sequential scan of an empty partition (the months ahead, the DEFAULT partition) reads
    nothing and is what PostgreSQL rightly picks there: an id lookup, which no time bound
    prunes, visits them. Only a scan of a partition holding rows counts."""
    from django.db import connection

    plans, ok = [], True
    for sql, params in queries:
        if TABLE not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            for relation in set(SEQ_SCAN.findall(plan)):
                cursor.execute("SELECT pg_relation_size(%s::regclass)", [relation])
                if cursor.fetchone()[0] > 0:
                    ok = False
        plans.append(plan)
    return plans, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--runs", type=int, default=20, help="timed runs per page; medians reported"
    )
    parser.add_argument("--depth", type=int, default=10_000, help="how many pages deep")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--database", default="auditdesk_bench")
    parser.add_argument("--reload", action="store_true", help="drop and reload the database")
    parser.add_argument("--quiet-plans", action="store_true", help="print plan verdicts only")
    parser.add_argument("--json", help="write the results here (for make bench's report)")
    args = parser.parse_args()

    use_database(args.database, args.reload)
    ensure_loaded(args.rows, args.orgs, args.days)

    from urllib.parse import urlencode

    from django.test import Client
    from django.utils import timezone

    from accounts.models import Organization, User
    from audit_read import filters, paging
    from audit_web import views
    from auditlog.models import AuditEvent
    from core.tenancy import tenant

    org = Organization.objects.get(slug="bench-org-001")
    # Everything below reads as this organisation (tenant scoping and row-level security);
    # the page requests set their own context from the signed-in user, as in production.
    scope = contextlib.ExitStack()
    scope.enter_context(tenant(org))
    admin = User.objects.get(email="admin@bench001.test")
    agent = User.objects.exclude(pk=admin.pk).order_by("pk").first()
    client = Client()
    client.force_login(admin)
    total = AuditEvent.objects.for_org(org.pk).count()
    today = timezone.now().astimezone(org.tz).date()
    window = {"start": (today - timedelta(days=args.days)).isoformat(), "end": today.isoformat()}
    common = {**window, "event_type": "work_session"}
    size = {"page_size": str(args.page_size)} if args.page_size != paging.DEFAULT_PAGE_SIZE else {}

    # The deep page's cursor, made the way the page makes it, for the row just above it.
    query_params = views._query_params(common)
    queryset, errors = filters.filter_events(org, query_params)
    assert not errors, errors
    matching = queryset.count()
    if matching <= args.depth * args.page_size:
        # A smaller log (make bench at 1M): go as deep as it allows, and say so.
        args.depth = max(1, int((matching // args.page_size - 1) * 0.9))
        print(
            f"Only {matching:,} events match the common filters: going {args.depth:,} pages deep."
        )
    offset = args.depth * args.page_size
    occurred_at, pk = queryset.values_list("occurred_at", "id")[offset - 1 : offset].get()
    cursor = paging.make_cursor(
        AuditEvent(pk=pk, occurred_at=occurred_at),
        paging.NEXT,
        filters.filters_key(org, query_params),
    )
    expected_first = queryset.values_list("id", flat=True)[offset : offset + 1].get()
    first_url = URL + "?" + urlencode({**common, **size})
    deep_url = URL + "?" + urlencode({**common, **size, "cursor": cursor})

    html = timed_get(client, deep_url)[3]
    assert f'data-event-id="{expected_first}"' in html, (
        "the deep page does not start where it should"
    )

    print()
    print(f"Organisation: {org.name}, {total:,} events; {matching:,} match the common filters")
    print(f"Common filters: {urlencode(common)}, page size {args.page_size}")
    print(f"Deep page: page {args.depth + 1:,} (events {offset + 1:,}–{offset + args.page_size:,})")

    # The API's pages for the same filters (the same cursor: one FilterSet, one key).
    api_first_url = API_URL + "?" + urlencode({**common, **size})
    api_deep_url = API_URL + "?" + urlencode({**common, **size, "cursor": cursor})
    # One event's page: the deep page's first event, an old event of the log.
    event_url = EVENT_URL.format(id=expected_first)
    assert 'id="event-title"' in timed_get(client, event_url)[3]
    urls = (first_url, deep_url, api_first_url, api_deep_url, event_url)
    for _ in range(3):  # warm caches and the connection
        for url in urls:
            timed_get(client, url)
    first, deep, api_first, api_deep, event = [], [], [], [], []
    sampler = LoadSampler()
    sampler.start()
    for _ in range(args.runs):  # interleaved, so machine noise hits all alike
        for runs, url in zip((first, deep, api_first, api_deep, event), urls, strict=True):
            runs.append(timed_get(client, url))
    load = sampler.stop()

    def med(runs: list, n: int) -> float:
        return statistics.median(run[n] for run in runs)

    first_ms, deep_ms = med(first, 0), med(deep, 0)
    print()
    print(f"While measuring: {load_text(load)} on {os.cpu_count()} CPUs")
    print(f"Server time, median of {args.runs} runs: wall (SQL wait, this process's CPU)")
    for label, runs in (
        ("first page", first),
        (f"page {args.depth + 1:,}", deep),
        ("API first page", api_first),
        (f"API page {args.depth + 1:,}", api_deep),
        (f"event {expected_first}", event),
    ):
        print(
            f"  {label:18} {med(runs, 0):7.1f} ms  ({med(runs, 1):.1f} ms SQL, "
            f"{med(runs, 4):.1f} ms CPU; best {min(run[0] for run in runs):.1f} ms)"
        )
    event_ms = med(event, 0)
    print(f"  deep / first       {deep_ms / first_ms:7.2f}x")
    print(f"  event / first      {event_ms / first_ms:7.2f}x")
    verdict_first = "OK" if first_ms <= 50 else "MISSED"
    verdict_ratio = "OK" if deep_ms <= 1.5 * first_ms else "MISSED"
    verdict_event = "OK" if event_ms <= 30 else "MISSED"
    print(
        f"  targets: first page <= 50 ms: {verdict_first}; deep <= 1.5x first: {verdict_ratio}; "
        f"event page <= 30 ms: {verdict_event}"
    )

    subject = (
        AuditEvent.objects.for_org(org.pk)
        .filter(event_type="conversation")
        .values_list("subject_id", flat=True)[:1]
        .get()
    )
    customer = (
        AuditEvent.objects.for_org(org.pk)
        .filter(event_type="customer")
        .values_list("subject_id", flat=True)[:1]
        .get()
    )
    ip = (
        AuditEvent.objects.for_org(org.pk)
        .filter(section="Session")
        .values_list("ip_address", flat=True)[:1]
        .get()
    )
    combinations: list[tuple[str, dict[str, str]]] = [
        ("default: last 7 days", {}),
        ("common: work_session, 90 days", common),
        ("common, page 10,001", {**common, "cursor": cursor}),
        ("authorization + user", {**window, "event_type": "authorization", "user": str(agent.pk)}),
        ("settings", {**window, "event_type": "settings"}),
        ("settings + kind", {**window, "event_type": "settings", "kind": "business_rule"}),
        (
            "settings + performed_by",
            {**window, "event_type": "settings", "performed_by": str(admin.pk)},
        ),
        ("work_session + agent", {**window, "event_type": "work_session", "agent": str(agent.pk)}),
        ("conversation + object", {**window, "event_type": "conversation", "subject_id": subject}),
        ("customer + object", {**window, "event_type": "customer", "subject_id": customer}),
        ("billing", {**window, "event_type": "billing"}),
        ("all events for an object", {"subject_type": "user", "subject_id": str(agent.pk)}),
        ("ip", {**window, "ip": ip}),
        ("q (free text)", {**window, "q": "Order 4242 has"}),
    ]
    print()
    print(f"{'filter combination':32} {'median ms':>10} {'SQL ms':>8} {'CPU ms':>8}  plan")
    all_ok = True
    reports = []
    combination_results: list[dict[str, Any]] = []
    for label, params in combinations:
        url = URL + ("?" + urlencode({**params, **size}) if params else "")
        timed_get(client, url)
        runs = [timed_get(client, url) for _ in range(args.runs)]
        plans, ok = explain(runs[-1][2])
        all_ok &= ok
        print(
            f"{label:32} {med(runs, 0):10.1f} {med(runs, 1):8.1f} {med(runs, 4):8.1f}  "
            f"{'no seq scan' if ok else 'SEQ SCAN'}"
        )
        reports.append((label, url, plans))
        combination_results.append(
            {
                "filters": label,
                "median_ms": med(runs, 0),
                "sql_ms": med(runs, 1),
                "cpu_ms": med(runs, 4),
                "seq_scan": not ok,
            }
        )
    # The search language (audit_read/query.py) against the same filters as parameters,
    # interleaved; a negation or an address range has no parameter, so its pair is the
    # parameters it adds a condition to.
    network = ".".join(str(ip).split(".")[:3]) + ".0/24" if ip and "." in str(ip) else ip
    pairs = [
        (
            "q actor: + type:",
            {**window, "q": f"actor:{admin.email} type:settings"},
            {
                **window,
                "event_type": "settings",
                "actor_type": "user",
                "performed_by": str(admin.pk),
            },
        ),
        (
            'q -actor_type:system section:"Business Rule"',
            {**window, "q": '-actor_type:system section:"Business Rule"'},
            {**window, "section": "Business Rule"},
        ),
        (
            "q ip:CIDR created:>=",
            {"q": f"ip:{network} created:>={window['start']}"},
            {"start": window["start"], "ip": ip},
        ),
    ]
    print()
    print(f"{'search language':44} {'p95 ms':>7} {'params p95':>10} {'ratio':>6}  plan")
    query_results = []
    for label, by_query, by_params in pairs:
        query_url = URL + "?" + urlencode({**by_query, **size})
        params_url = URL + "?" + urlencode({**by_params, **size})
        timed_get(client, query_url), timed_get(client, params_url)
        query_runs, params_runs = [], []
        for _ in range(args.runs):
            query_runs.append(timed_get(client, query_url))
            params_runs.append(timed_get(client, params_url))
        plans, ok = explain(query_runs[-1][2])
        all_ok &= ok
        p95_query = statistics.quantiles([r[0] for r in query_runs], n=20)[18]
        p95_params = statistics.quantiles([r[0] for r in params_runs], n=20)[18]
        ratio = p95_query / p95_params
        verdict = "OK" if p95_query <= 50 and ratio <= 1.2 else "MISSED"
        print(
            f"{label:44} {p95_query:7.1f} {p95_params:10.1f} {ratio:6.2f}  "
            f"{'no seq scan' if ok else 'SEQ SCAN'}  {verdict}"
        )
        reports.append((label, query_url, plans))
        query_results.append(
            {"query": label, "p95_ms": p95_query, "params_p95_ms": p95_params, "ratio": ratio}
        )
    print("  targets: p95 <= 50 ms and <= 1.2x the same filters as parameters")

    event_plans, event_ok = explain(event[-1][2])
    all_ok &= event_ok
    print(
        f"{'event page':32} {event_ms:10.1f} {med(event, 1):8.1f} {med(event, 4):8.1f}  "
        f"{'no seq scan' if event_ok else 'SEQ SCAN'}"
    )
    reports.append(("event page", event_url, event_plans))
    if not args.quiet_plans:
        for label, url, plans in reports:
            print()
            print(f"=== {label}: {url}")
            for plan in plans:
                print(plan)
                print("---")
    scope.close()
    print()
    print(
        "No query of the pages scans the audit table."
        if all_ok
        else "A query of the pages scans the audit table sequentially (see SEQ SCAN above)."
    )

    def timing(runs: list) -> dict[str, float]:
        return {
            "median_ms": med(runs, 0),
            "sql_ms": med(runs, 1),
            "cpu_ms": med(runs, 4),
            "best_ms": min(run[0] for run in runs),
        }

    write_json(
        args.json,
        {
            "benchmark": "viewer",
            "database": args.database,
            "organisation_events": total,
            "common_matching": matching,
            "depth_pages": args.depth + 1,
            "runs": args.runs,
            "first_page": timing(first),
            "deep_page": timing(deep),
            "api_first_page": timing(api_first),
            "api_deep_page": timing(api_deep),
            "event_page": timing(event),
            "deep_over_first": deep_ms / first_ms,
            "event_over_first": event_ms / first_ms,
            "combinations": combination_results,
            "search_language": query_results,
            "no_seq_scan": all_ok,
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
