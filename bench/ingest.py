"""Ingest benchmark: the highest sustained audited changes/s with 8 writer processes, vs unaudited.

Two pools of writer processes (bench/writers.py) make the same changes through the services,
one with the recorder on and one with its save handlers disconnected. They run in turns
(interleaved windows, so machine noise hits both alike), each as fast as it can, and the
medians give the ratio. Target: audited >= 0.75x unaudited. Also checks that the audited
windows wrote exactly one audit row per change.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import (  # noqa: E402
    LoadSampler,
    database_env,
    load_text,
    write_json,
)
from bench._setup import use_bench_database  # noqa: E402

TARGET = 0.75
UNAUDITED_FIRST = 100  # the unaudited writers' objects are numbered from here


def audit_rows_since(since: object) -> int:
    """Audit rows the writers' requests wrote after `since`: as the owner, one organisation
    at a time (row-level security is forced on the owner too)."""
    import psycopg
    from django.db import connections

    from auditlog.roles import owner_db
    from bench.writers import REQUEST_ID_PREFIX, WRITER_ORGS

    db = connections[owner_db()].settings_dict
    slugs = [f"bench-org-{n:03d}" for n in range(1, WRITER_ORGS + 1)]
    total = 0
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as conn:
        orgs = conn.execute(
            "SELECT id FROM accounts_organization WHERE slug = ANY(%s)", (slugs,)
        ).fetchall()
        for (org_id,) in orgs:
            conn.execute("SELECT set_config('app.org_id', %s, false)", (str(org_id),))
            total += conn.execute(
                "SELECT count(*) FROM auditlog_auditevent WHERE org_id = %s "
                "AND occurred_at >= %s AND request_id LIKE %s",
                (org_id, since, REQUEST_ID_PREFIX + "%"),
            ).fetchone()[0]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="auditdesk_bench_1m")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15, help="length of each window")
    parser.add_argument("--rounds", type=int, default=4, help="windows per mode; medians")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    use_bench_database(args.database)
    from django.utils import timezone

    from bench.writers import WriterPool, prepare

    # Each pool changes its own customers and conversations (same organisations and shapes).
    prepare(args.writers)
    prepare(args.writers, first_index=UNAUDITED_FIRST)
    urls = database_env(args.database)
    pools = {
        True: WriterPool(urls, writers=args.writers, audited=True),
        False: WriterPool(urls, writers=args.writers, audited=False, first_index=UNAUDITED_FIRST),
    }
    for pool in pools.values():
        pool.start()
    windows: dict[bool, list[dict]] = {True: [], False: []}
    since = timezone.now()  # after the warm-up changes, before any measured one
    sampler = LoadSampler()
    sampler.start()
    try:
        for round_no in range(args.rounds):
            for audited in (False, True) if round_no % 2 == 0 else (True, False):
                window = pools[audited].measure(args.seconds)
                windows[audited].append(window)
                print(
                    f"  round {round_no + 1} {'audited  ' if audited else 'unaudited'} "
                    f"{window['changes_per_s']:8.0f} changes/s ({window['errors']} errors)",
                    flush=True,
                )
    finally:
        for pool in pools.values():
            pool.finish()
    load = sampler.stop()
    # Every change an audited writer made, measured window or not, and the rows they left.
    audited_changes = pools[True].counts()[0]
    audited_rows = audit_rows_since(since)

    audited_rate = statistics.median(w["changes_per_s"] for w in windows[True])
    plain_rate = statistics.median(w["changes_per_s"] for w in windows[False])
    ratio = audited_rate / plain_rate
    errors = sum(w["errors"] for ws in windows.values() for w in ws)
    print()
    print(
        f"Ingest: {args.writers} writer processes, {args.rounds} interleaved windows of "
        f"{args.seconds:.0f} s per mode, medians ({load_text(load)})"
    )
    print(f"  unaudited {plain_rate:9,.0f} changes/s")
    print(f"  audited   {audited_rate:9,.0f} changes/s ({audited_rate:,.0f} audit rows/s)")
    print(f"  ratio     {ratio:9.2f}  (target >= {TARGET}) {'OK' if ratio >= TARGET else 'MISSED'}")
    print(
        f"  audit rows written by audited windows: {audited_rows:,} "
        f"for {audited_changes:,} changes; errors: {errors}"
    )
    write_json(
        args.json,
        {
            "benchmark": "ingest",
            "database": args.database,
            "writers": args.writers,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "audited_changes_per_s": audited_rate,
            "unaudited_changes_per_s": plain_rate,
            "ratio": ratio,
            "target": TARGET,
            "met": ratio >= TARGET,
            "errors": errors,
            "audit_rows": audited_rows,
            "audited_changes": audited_changes,
            "windows": {
                "audited": windows[True],
                "unaudited": windows[False],
            },
            "load": load,
        },
    )


if __name__ == "__main__":
    main()
