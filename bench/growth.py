"""Growth benchmark: the first page at every table size, timed in one process, interleaved.

`make bench` measures each size in its own run, minutes apart; on a 2-core machine shared
with other work, the same page's CPU time swings by 1.5x between such runs, which is as
large as the growth being judged. Here one process switches its database connection
between the sizes' bench databases round by round and times, as each size's largest
organisation's Administrator, the Audit Log page's and the API's first page for the same
filters (`event_type=work_session` over the last 90 days), so machine noise hits every size
alike. The ratio of each size's median to the smallest size's is the growth.
"""

import argparse
import statistics
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import LoadSampler, load_text, write_json  # noqa: E402
from bench._setup import use_bench_database  # noqa: E402
from bench.viewer import API_URL, URL, timed_get  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        required=True,
        help="label=database pairs, smallest first, e.g. 1M=auditdesk_bench_1m,10M=…",
    )
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--json", help="write the results here (for make bench's report)")
    args = parser.parse_args()

    sizes = []
    for pair in args.sizes.split(","):
        label, _, database = pair.partition("=")
        if not database or "bench" not in database:
            raise SystemExit(f"bad size {pair!r}: use label=auditdesk_bench_… pairs")
        sizes.append((label.strip(), database.strip()))
    if len(sizes) < 2:
        raise SystemExit("growth needs at least two sizes")

    use_bench_database(sizes[0][1])
    from urllib.parse import urlencode

    from django.db import connections
    from django.test import Client
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import Organization, User
    from auditlog.models import AuditEvent
    from core.tenancy import tenant

    def use(database: str) -> None:
        # Both logins switch: the application's (measured) and the owner's (its jobs).
        for alias in ("default", "owner"):
            connections[alias].close()
            connections[alias].settings_dict["NAME"] = database

    clients: dict[str, Client] = {}
    urls: dict[str, tuple[str, str]] = {}
    events: dict[str, int] = {}
    for label, database in sizes:
        use(database)
        org = Organization.objects.get(slug="bench-org-001")
        with tenant(org):
            admin = User.objects.get(email="admin@bench001.test")
            events[label] = AuditEvent.objects.for_org(org.pk).count()
        client = Client()
        client.force_login(admin)  # a session in this database
        today = timezone.now().astimezone(org.tz).date()
        query = urlencode(
            {
                "start": (today - timedelta(days=args.days)).isoformat(),
                "end": today.isoformat(),
                "event_type": "work_session",
            }
        )
        clients[label] = client
        urls[label] = (f"{URL}?{query}", f"{API_URL}?{query}")

    runs: dict[str, dict[str, list[tuple]]] = {label: {"page": [], "api": []} for label, _ in sizes}
    sampler = LoadSampler()
    sampler.start()
    for round_no in tqdm(range(args.runs), desc="growth", unit="round", disable=None):
        order = sizes if round_no % 2 == 0 else sizes[::-1]
        for label, database in order:
            use(database)
            page_url, api_url = urls[label]
            client = clients[label]
            timed_get(client, page_url)  # the new connection and its first queries: untimed
            timed_get(client, api_url)
            runs[label]["page"].append(timed_get(client, page_url))
            runs[label]["api"].append(timed_get(client, api_url))
    load = sampler.stop()

    def timing(samples: list[tuple]) -> dict[str, float]:
        return {
            "median_ms": statistics.median(s[0] for s in samples),
            "sql_ms": statistics.median(s[1] for s in samples),
            "cpu_ms": statistics.median(s[4] for s in samples),
        }

    results: dict[str, Any] = {}
    base = sizes[0][0]
    print()
    print(f"Growth: first pages, {args.runs} interleaved rounds in one process ({load_text(load)})")
    print(f"{'size':<6} {'events':>12} {'page ms':>9} {'(SQL)':>7} {'API ms':>8} {'(SQL)':>7}")
    for label, _ in sizes:
        page, api = timing(runs[label]["page"]), timing(runs[label]["api"])
        results[label] = {"organisation_events": events[label], "page": page, "api": api}
        print(
            f"{label:<6} {events[label]:>12,} {page['median_ms']:>9.1f} {page['sql_ms']:>7.1f} "
            f"{api['median_ms']:>8.1f} {api['sql_ms']:>7.1f}"
        )
    for label, _ in sizes[1:]:
        for kind in ("page", "api"):
            ratio = results[label][kind]["median_ms"] / results[base][kind]["median_ms"]
            results[label][kind]["growth"] = ratio
            print(f"{kind} first page {base} → {label}: {ratio:.2f}x (target < 1.5x)")
    write_json(
        args.json,
        {
            "benchmark": "growth",
            "sizes": [label for label, _ in sizes],
            "runs": args.runs,
            "results": results,
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
