"""Integrity benchmark: sealing with signed digests, the integrity endpoint, offline verification.

`make bench-integrity`. At 1M and 10M events (load_bench_events: 50 organisations, Zipf-sized,
90 days, every row with its MAC), reusing a loaded database when it holds the right number
of bench events, unsealed, with valid MACs (10M: bench-viewer's `auditdesk_bench`, else make
bench's `auditdesk_bench_10m`; 1M: `auditdesk_bench_1m`), else loading one. Each run works on
a fresh copy of it (CREATE DATABASE … TEMPLATE, as the owner's login), so every run seals
the same unsealed log; the copy is dropped afterwards. Each run, in its own process:

(i)   sealing throughput with signing: `integrity.seal` for every organisation and the
      platform chain, as the owner (what beat runs; AUDIT_SEAL_WORKERS processes, 2 by
      default), events/s; target >= 50,000/s;
(ii)  `GET /api/v1/audit-integrity/` for the largest organisation through Django's test
      client (the application's login, its Administrator signed in): after sealing (no
      checkpoint yet: every seal is recomputed; informational) and after one incremental
      verification pass (`integrity.verify(org, save=True)` as the owner), median of N;
      target <= 50 ms at 1M and at 10M, 10M/1M <= 1.2;
(iii) offline verification: the largest organisation's NDJSON export
      (`/api/v1/audit-events/export.ndjson`), its digests
      (`/api/v1/audit-integrity/digests/download/`) and the public key
      (`/api/v1/audit-integrity/`) through scripts/verify_export.py, events/s; target
      >= 100,000/s; the export must verify (exit 0).
Then (iv) bench/recorder.py (the MAC on the write path): audited/unaudited >= 0.75 (one
save per transaction) and >= 0.85 (many saves).

Every figure is the worst of --runs runs (3). Printed as a table with the 10M/1M ratios;
--json writes every run's figures.
"""

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import (  # noqa: E402
    ROOT,
    LoadSampler,
    cpu_seconds,
    database_env,
    drop_database,
    load_text,
    org_event_counts,
    owner_database_url,
    postgres_pids,
    server_url,
    write_json,
)

LARGEST = "bench-org-001"
ADMIN = "admin@bench001.test"
INTEGRITY_URL = "/api/v1/audit-integrity/"
DIGESTS_URL = "/api/v1/audit-integrity/digests/download/"
EXPORT_URL = "/api/v1/audit-events/export.ndjson"
VERIFY_EXPORT = ROOT / "scripts" / "verify_export.py"
# Where a size's loaded log is looked for (first valid one wins), and loaded if none is.
CANDIDATES = {"1M": ["auditdesk_bench_1m"], "10M": ["auditdesk_bench", "auditdesk_bench_10m"]}
TARGETS = {
    "seal_events_per_s": 50_000,
    "get_after_verify_ms": 50.0,
    "get_growth": 1.2,
    "verify_export_events_per_s": 100_000,
    "recorder_one": 0.75,
    "recorder_many": 0.85,
}
GROWTH_LIMIT = 1.15  # a reused database may hold this much more (the writers' rows)


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * factor)


# --------------------------------------------------------------------------- databases


def _owner(database: str) -> Any:
    import psycopg

    return psycopg.connect(owner_database_url(database), autocommit=True)


def _exists(database: str) -> bool:
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        )


def unusable(database: str, rows: int) -> str | None:
    """Why `database` cannot serve as this size's log (None: it can)."""
    from auditlog import mac

    if not _exists(database):
        return "absent"
    try:
        counts = org_event_counts(owner_database_url(database))
        with _owner(database) as conn:
            seals = conn.execute("SELECT count(*) FROM auditlog_auditseal").fetchone()[0]
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) = current_user FROM pg_database "
                "WHERE datname = current_database()"
            ).fetchone()[0]
            org_id = conn.execute(
                "SELECT id FROM accounts_organization WHERE slug = %s", (LARGEST,)
            ).fetchone()
            sample = []
            if org_id is not None:
                conn.execute("SELECT set_config('app.org_id', %s, false)", (str(org_id[0]),))
                for order in ("ASC", "DESC"):
                    sample += conn.execute(
                        f"SELECT e.mac, {mac.SELECT_COLUMNS} FROM auditlog_auditevent e "  # noqa: S608
                        f"WHERE e.org_id = %s ORDER BY e.occurred_at {order} LIMIT 300",
                        (org_id[0],),
                    ).fetchall()
    except Exception as error:  # noqa: BLE001 - any half-made database is simply not used
        return f"unreadable ({type(error).__name__}: {str(error).splitlines()[0]})"
    have = sum(counts.values())
    if not owner:
        return "not owned by the owner's login"
    if not rows * 0.99 <= have <= rows * GROWTH_LIMIT:
        return f"holds {have:,} bench events, not ~{rows:,}"
    if seals:
        return f"already sealed ({seals:,} seals): sealing could not be measured on it"
    if not sample or not all(mac.valid(row[1:], row[0]) for row in sample):
        return "its rows carry no valid MAC (loaded by an earlier release, or another key)"
    return None


def ensure_log(label: str, rows: int, orgs: int, days: int) -> str:
    """The database holding this size's unsealed, MACed bench log (reused or loaded)."""
    for database in CANDIDATES.get(label, []):
        reason = unusable(database, rows)
        if reason is None:
            print(f"[{label}] reusing {database} (migrating it first)", flush=True)
            env = {**os.environ, "DEBUG": "false", **database_env(database)}
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
            return database
        print(f"[{label}] {database}: {reason}", flush=True)
    database = (CANDIDATES.get(label) or [f"auditdesk_bench_{label.lower()}"])[0]
    print(f"[{label}] loading {rows:,} events into {database} (minutes)…", flush=True)
    env = {**os.environ, "DEBUG": "false", **database_env(database)}
    from bench._common import ensure_database

    ensure_database(database, reload=True)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    started = time.monotonic()
    subprocess.run(
        [*manage, "load_bench_events", f"--rows={rows}", f"--orgs={orgs}", f"--days={days}"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    print(f"[{label}] loaded in {time.monotonic() - started:.0f} s", flush=True)
    return database


def copy_of(source: str, copy: str) -> None:
    """A fresh copy of `source` (as its owner: CREATE DATABASE … TEMPLATE)."""
    import psycopg

    drop_database(copy)
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')


# --------------------------------------------------------------------------- one run


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_get(client: Any, url: str) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:500]!r}")
    return elapsed, response


def measure_run(args: argparse.Namespace) -> None:
    """One run on one database copy (Django set up on it here); figures to --json."""
    os.environ.update(database_env(args.database))
    os.environ["DEBUG"] = "false"
    # Measure the endpoint, not the throttle.
    os.environ["API_TOKEN_RATE"] = "1000000/minute"  # noqa: S105
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test import Client
    from tqdm import tqdm

    from accounts.models import Organization, User
    from auditlog import digests, integrity
    from auditlog.models import AuditEvent
    from auditlog.roles import owner_db
    from core.tenancy import tenant

    digest_dir = Path(settings.AUDIT_DIGEST_DIR)
    shutil.rmtree(digest_dir, ignore_errors=True)
    digests.private_key()  # no key, no seals: fail now, not after loading
    result: dict[str, Any] = {"database": args.database}
    owner = owner_db()
    org_ids = list(Organization.objects.using(owner).order_by("pk").values_list("pk", flat=True))
    largest = Organization.objects.using(owner).get(slug=LARGEST)

    # (i) Sealing with signing, every organisation then the platform chain, as beat does.
    sampler = LoadSampler()
    sampler.start()
    cpu_self = time.process_time()
    cpu_children = _children_cpu()
    started = time.perf_counter()
    sealed = seals = 0
    with tqdm(total=len(org_ids) + 1, desc="sealing", unit="org", disable=None) as bar:

        def progress(org_id: int | None, made: list) -> None:
            nonlocal sealed, seals
            sealed += sum(seal.event_count for seal in made)
            seals += len(made)
            bar.set_postfix(events=f"{sealed:,}", refresh=False)
            bar.update()

        # Every organisation and the platform chain in one call, as beat's task makes it
        # (settings.AUDIT_SEAL_WORKERS organisations at a time).
        integrity.seal(margin_seconds=0, progress=progress)
    seconds = time.perf_counter() - started
    pids = postgres_pids(args.database)
    result["seal"] = {
        "events": sealed,
        "seals": seals,
        "seconds": seconds,
        "events_per_s": sealed / seconds,
        # This process and the sealing processes it forked.
        "python_cpu_s": time.process_time() - cpu_self + _children_cpu() - cpu_children,
        # The backends still connected (this process's): PostgreSQL's share of the work.
        "postgres_cpu_s": cpu_seconds(pids),
        "load": sampler.stop(),
    }
    print(
        f"sealed {sealed:,} events in {seals:,} seals in {seconds:.1f} s: "
        f"{sealed / seconds:,.0f} events/s ({load_text(result['seal']['load'])})",
        flush=True,
    )

    # (ii) The integrity endpoint as the largest organisation's Administrator.
    with tenant(largest):
        admin = User.objects.get(email=ADMIN)
        result["largest_events"] = AuditEvent.objects.for_org(largest.pk).count()
    client = Client()
    client.force_login(admin)
    after_seal = []
    for _ in tqdm(range(args.slow_requests), desc="GET after sealing", unit="req", disable=None):
        elapsed, response = _timed_get(client, INTEGRITY_URL)
        after_seal.append(elapsed)
    result["get_after_seal"] = {
        "median_ms": statistics.median(after_seal),
        "runs_ms": after_seal,
        "verified": response.json().get("verified"),
    }
    started = time.perf_counter()
    report = integrity.verify(largest.pk, save=True)
    verify_seconds = time.perf_counter() - started
    result["verify_pass"] = {
        "seconds": verify_seconds,
        "sealed_events": report.sealed_events,
        "verified": report.verified,
        "events_per_s": report.sealed_events / verify_seconds if verify_seconds else None,
    }
    for _ in range(3):  # warm-up: connection, caches
        _timed_get(client, INTEGRITY_URL)
    after_verify = []
    for _ in tqdm(range(args.requests), desc="GET after verifying", unit="req", disable=None):
        elapsed, response = _timed_get(client, INTEGRITY_URL)
        after_verify.append(elapsed)
    body = response.json()
    result["get_after_verify"] = {
        "median_ms": statistics.median(after_verify),
        "max_ms": max(after_verify),
        "runs_ms": after_verify,
        "verified": body.get("verified"),
        "first_broken_link": body.get("first_broken_link"),
    }
    print(
        f"GET {INTEGRITY_URL}: {result['get_after_seal']['median_ms']:,.0f} ms after sealing, "
        f"{result['get_after_verify']['median_ms']:.1f} ms after a verification pass "
        f"({verify_seconds:.1f} s); verified: {body.get('verified')}",
        flush=True,
    )

    # (iii) Offline verification of the largest organisation's export.
    if not VERIFY_EXPORT.exists():
        # TODO(bench-integrity): scripts/verify_export.py is being written; measure it here
        # once it lands (the export, digests and key below are what it takes).
        print("TODO: scripts/verify_export.py is not there yet: offline verification skipped")
        result["verify_export"] = None
    else:
        workdir = Path(tempfile.mkdtemp(prefix="auditdesk-integrity-"))
        try:
            result["verify_export"] = offline_verification(client, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    for alias in connections:
        connections[alias].close()
    shutil.rmtree(digest_dir, ignore_errors=True)
    Path(args.json).write_text(json.dumps(result, indent=2, default=str))


def offline_verification(client: Any, workdir: Path) -> dict[str, Any]:
    from tqdm import tqdm

    events_path, digests_path, key_path = (
        workdir / "export.ndjson",
        workdir / "digests.json",
        workdir / "integrity.json",
    )
    started = time.perf_counter()
    response = client.get(EXPORT_URL)
    if response.status_code != 200:
        raise SystemExit(f"{EXPORT_URL} answered {response.status_code}")
    lines = 0
    with (
        events_path.open("wb") as out,
        tqdm(desc="NDJSON export", unit="B", unit_scale=True, disable=None) as bar,
    ):
        for chunk in response.streaming_content:
            out.write(chunk)
            lines += chunk.count(b"\n")
            bar.update(len(chunk))
    export_seconds = time.perf_counter() - started
    _, response = _timed_get(client, DIGESTS_URL)
    digests_path.write_bytes(b"".join(response.streaming_content))
    _, response = _timed_get(client, INTEGRITY_URL)
    key_path.write_bytes(response.content)
    command = [
        sys.executable,
        str(VERIFY_EXPORT),
        "--events",
        str(events_path),
        "--digests",
        str(digests_path),
        "--public-key",
        str(key_path),
    ]
    sampler = LoadSampler()
    sampler.start()
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    load = sampler.stop()
    figures = {
        "events": lines,
        "export_bytes": events_path.stat().st_size,
        "export_seconds": export_seconds,
        "digests": len(json.loads(digests_path.read_bytes())),
        "seconds": seconds,
        "events_per_s": lines / seconds,
        "exit": run.returncode,
        "output": (run.stdout + run.stderr)[-1500:],
        "load": load,
    }
    print(
        f"verify_export: {lines:,} events, {figures['digests']:,} digests in {seconds:.1f} s: "
        f"{lines / seconds:,.0f} events/s, exit {run.returncode} ({load_text(load)})",
        flush=True,
    )
    if run.returncode != 0:
        print(figures["output"])
    return figures


# --------------------------------------------------------------------------- recorder


def recorder_runs(runs: int) -> list[dict[str, Any]]:
    results = []
    for number in range(1, runs + 1):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            print(f"\n=== recorder, run {number} of {runs} ===", flush=True)
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "recorder.py"), f"--json={out.name}"],
                cwd=ROOT,
                env={**os.environ, "DEBUG": "false"},
                check=True,
            )
            results.append(json.loads(Path(out.name).read_text()))
    return results


# --------------------------------------------------------------------------- report


def _worst(runs: list[dict[str, Any]], path: tuple[str, ...], highest_is_worst: bool) -> Any:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = None if value is None else value.get(key)
        if value is not None:
            values.append(value)
    if not values:
        return None
    return max(values) if highest_is_worst else min(values)


def summarise(sizes: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    summary = {}
    for label, runs in sizes.items():
        summary[label] = {
            "largest_events": runs[0]["largest_events"],
            "events_sealed": runs[0]["seal"]["events"],
            "seal_events_per_s": _worst(runs, ("seal", "events_per_s"), False),
            "get_after_seal_ms": _worst(runs, ("get_after_seal", "median_ms"), True),
            "get_after_verify_ms": _worst(runs, ("get_after_verify", "median_ms"), True),
            "verify_export_events_per_s": _worst(runs, ("verify_export", "events_per_s"), False),
            "verify_export_exit": _worst(runs, ("verify_export", "exit"), True),
            "get_verified": all(run["get_after_verify"]["verified"] for run in runs),
        }
    return summary


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:,}"


def print_table(summary: dict[str, dict[str, Any]], recorder: list[dict[str, Any]], runs: int):
    labels = list(summary)
    first, last = labels[0], labels[-1]
    print()
    print(f"Integrity benchmark, worst of {runs} runs per size")
    rows = [
        ("events sealed (all organisations)", "events_sealed", "", None),
        ("largest organisation's events", "largest_events", "", None),
        ("(i) sealing with signing", "seal_events_per_s", "/s", ">= 50,000/s"),
        ("(ii) GET integrity, after sealing", "get_after_seal_ms", "ms", "(informational)"),
        ("(ii) GET integrity, after verify pass", "get_after_verify_ms", "ms", "<= 50 ms"),
        ("(iii) verify_export.py", "verify_export_events_per_s", "/s", ">= 100,000/s"),
    ]
    ratio_head = f"{last}/{first}" if len(labels) > 1 else ""
    print(
        f"{'figure':<40}"
        + "".join(f"{label:>16}" for label in labels)
        + f"{ratio_head:>10}  target"
    )
    for title, key, unit, target in rows:
        values = [summary[label][key] for label in labels]
        ratio = ""
        if len(labels) > 1 and values[0] and values[-1] is not None and unit:
            ratio = f"{values[-1] / values[0]:.2f}"
        print(
            f"{title:<40}"
            + "".join(f"{_cell(v, unit):>16}" for v in values)
            + f"{ratio:>10}  {target or ''}"
        )
    if recorder:
        one = min(r["shapes"]["one save per transaction"]["ratio"] for r in recorder)
        many = min(r["shapes"]["many saves per transaction"]["ratio"] for r in recorder)
        print(
            f"{'(iv) recorder, one save per transaction':<40}{one:>16.2f}"
            f"{'':>{16 * (len(labels) - 1) + 10}}  >= 0.75 (audited/unaudited)"
        )
        print(
            f"{'(iv) recorder, many saves per transaction':<40}{many:>16.2f}"
            f"{'':>{16 * (len(labels) - 1) + 10}}  >= 0.85"
        )


def verdicts(summary: dict[str, dict[str, Any]], recorder: list[dict[str, Any]]) -> dict:
    labels = list(summary)
    found: dict[str, bool] = {}
    for label, figures in summary.items():
        found[f"{label} sealing >= 50,000 events/s"] = (
            figures["seal_events_per_s"] >= TARGETS["seal_events_per_s"]
        )
        found[f"{label} GET after verify pass <= 50 ms"] = (
            figures["get_after_verify_ms"] <= TARGETS["get_after_verify_ms"]
        )
        found[f"{label} integrity endpoint says verified"] = figures["get_verified"]
        if figures["verify_export_events_per_s"] is not None:
            found[f"{label} verify_export >= 100,000 events/s"] = (
                figures["verify_export_events_per_s"] >= TARGETS["verify_export_events_per_s"]
            )
            found[f"{label} verify_export exit 0 (intact)"] = figures["verify_export_exit"] == 0
    if len(labels) > 1:
        growth = (
            summary[labels[-1]]["get_after_verify_ms"] / summary[labels[0]]["get_after_verify_ms"]
        )
        found[f"GET after verify {labels[-1]}/{labels[0]} <= 1.2"] = growth <= TARGETS["get_growth"]
    if recorder:
        found["recorder one save per transaction >= 0.75"] = all(
            r["shapes"]["one save per transaction"]["ratio"] >= TARGETS["recorder_one"]
            for r in recorder
        )
        found["recorder many saves per transaction >= 0.85"] = all(
            r["shapes"]["many saves per transaction"]["ratio"] >= TARGETS["recorder_many"]
            for r in recorder
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="all", choices=["all", "run"])
    parser.add_argument("--sizes", default="1M,10M")
    parser.add_argument("--runs", type=int, default=3, help="runs per size; the worst counts")
    parser.add_argument("--requests", type=int, default=20, help="GETs after verifying (median)")
    parser.add_argument(
        "--slow-requests", type=int, default=3, help="GETs right after sealing (median)"
    )
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--recorder-runs", type=int, default=3, help="0: skip (iv)")
    parser.add_argument("--database", help="(run) the database copy to measure")
    parser.add_argument("--json", help="write every run's figures here")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "false")
    if args.role == "run":
        measure_run(args)
        return

    import django

    django.setup()  # the MAC key, to check a reused database's rows
    sizes = [(label.strip().upper(), parse_size(label)) for label in args.sizes.split(",")]
    results: dict[str, list[dict[str, Any]]] = {}
    for label, rows in sizes:
        source = ensure_log(label, rows, min(args.orgs, max(1, rows // 100)), args.days)
        results[label] = []
        copy = f"{source}_integrity_run"
        for number in range(1, args.runs + 1):
            print(f"\n=== [{label}] run {number} of {args.runs} on a copy of {source} ===")
            started = time.monotonic()
            copy_of(source, copy)
            print(f"copied {source} in {time.monotonic() - started:.0f} s", flush=True)
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                env = {
                    **os.environ,
                    "AUDIT_DIGEST_DIR": str(ROOT / "var" / "bench-digests" / copy),
                }
                try:
                    subprocess.run(
                        [sys.executable, __file__, "run", f"--database={copy}",
                         f"--json={out.name}", f"--requests={args.requests}",
                         f"--slow-requests={args.slow_requests}"],
                        cwd=ROOT,
                        env=env,
                        check=True,
                    )  # fmt: skip
                finally:
                    with contextlib.suppress(Exception):
                        drop_database(copy)
                results[label].append(json.loads(Path(out.name).read_text()))
    recorder = recorder_runs(args.recorder_runs) if args.recorder_runs else []
    summary = summarise(results)
    print_table(summary, recorder, args.runs)
    found = verdicts(summary, recorder)
    for verdict, ok in found.items():
        print(f"  {verdict}: {'OK' if ok else 'MISSED'}")
    write_json(
        args.json,
        {
            "benchmark": "integrity",
            "runs": args.runs,
            "summary": summary,
            "verdicts": found,
            "sizes": results,
            "recorder": recorder,
        },
    )


if __name__ == "__main__":
    main()
