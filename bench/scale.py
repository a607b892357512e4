"""`make bench`: every benchmark at 1M and 10M audit events (100M with SCALE=100M), one report.

For each size it makes sure a benchmark database `auditdesk_bench_<size>` holds that many
generated events (load_bench_events: 50 organisations, Zipf-sized, 90 days), reusing one
that already does, then runs, each in its own process with its JSON results kept under
bench/results/<size>/:
- viewer   (bench/viewer.py): Audit Log page and API server time, first vs deep page, plans;
- load     (bench/load.py): 50 Administrators + 10 API clients on gunicorn, 8 writers;
- ingest   (bench/ingest.py): 8 writer processes, audited vs unaudited changes/s;
- recorder (bench/recorder.py): one process, audited vs unaudited saves;
- export   (bench/export.py): the largest organisation through the HTTP export vs bare COPY.
Then, across the sizes, growth (bench/growth.py): every size's first pages timed in one
process, interleaved, as ratios to the smallest size (bench/results/growth.json). Then bench/report.py writes bench/REPORT.md and bench/report.png from all the results.

A reused database grows a little with every run (the writers' and recorder's changes are
real audit rows, and the log is append-only); past 15% over its size it is reloaded.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import _common  # noqa: E402
from bench._common import (  # noqa: E402
    ROOT,
    database_env,
    org_event_counts,
    owner_database_url,
    server_url,
)

BENCHMARKS = ("viewer", "load", "ingest", "recorder", "export", "growth")
# Run once across every size measured, after the per-size benchmarks.
CROSS_SIZE = ("growth",)
SCALE_ALIASES = {"": "1M,10M", "100M": "1M,10M,100M"}
BYTES_PER_ROW = 520  # database bytes per generated event: 4.64 GB at 10M (2026-11-29), + margin
GROWTH_LIMIT = 1.15


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise SystemExit(f"bad size {text!r}: use e.g. 1M, 10M, 100M, 5k")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match[2].lower()]
    return int(float(match[1]) * factor)


def scales(text: str) -> list[tuple[str, int]]:
    text = SCALE_ALIASES.get(text.strip().upper(), text)
    return [
        (label.strip().upper(), parse_size(label)) for label in text.split(",") if label.strip()
    ]


def _psql(sql: str, params: tuple = ()) -> list[tuple]:
    """As the owner's login, on the maintenance database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def bench_rows(database: str) -> int:
    """Events of the bench organisations (as the owner, one organisation at a time)."""
    return sum(org_event_counts(owner_database_url(database)).values())


class Skipped(Exception):
    """A size this machine cannot hold: reported, not faked."""


def ensure_database(label: str, rows: int, orgs: int, days: int, env: dict) -> str:
    """`auditdesk_bench_<label>`, migrated and holding `rows` bench events (loaded if needed)."""
    name = f"auditdesk_bench_{label.lower()}"
    exists = _psql("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    if exists:
        # Refuses, saying why, a database the owner's login does not own.
        _common.ensure_database(name)
    have = 0
    if exists:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        try:
            have = bench_rows(name)
        except Exception:  # noqa: BLE001 - a half-made database is simply rebuilt
            have = -1
        if rows * 0.99 <= have <= rows * GROWTH_LIMIT:
            print(f"[{label}] {name} holds {have:,} bench events: reusing it.", flush=True)
            return name
        print(
            f"[{label}] {name} holds {have:,} bench events, not ~{rows:,}: reloading.", flush=True
        )
        _psql(f'DROP DATABASE "{name}" WITH (FORCE)')
    free = shutil.disk_usage("/").free
    needed = rows * BYTES_PER_ROW * 1.2
    if needed > free:
        raise Skipped(
            f"needs about {needed / 1e9:.0f} GB of free disk for {rows:,} events "
            f"(~{BYTES_PER_ROW} bytes per event with its indexes, plus 20%); "
            f"{free / 1e9:.0f} GB are free"
        )
    _common.ensure_database(name)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "load_bench_events",
            f"--rows={rows}",
            f"--orgs={orgs}",
            f"--days={days}",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    print(f"[{label}] loaded in {time.monotonic() - started:.0f} s", flush=True)
    return name


def bench_command(name: str, database: str, rows: int, args: argparse.Namespace, out: Path) -> list:
    py = [sys.executable]
    quick = args.quick
    if name == "viewer":
        command = py + [
            "bench/viewer.py",
            f"--database={database}",
            f"--rows={rows}",
            f"--orgs={args.orgs}",
            f"--days={args.days}",
            "--quiet-plans",
            f"--runs={3 if quick else 20}",
        ]
    elif name == "load":
        command = py + ["bench/load.py", f"--database={database}", f"--days={args.days}"]
        if quick:
            command += [
                "--administrators=3",
                "--api-clients=2",
                "--writers=2",
                "--duration=3",
                "--warmup=1",
                "--spawn-rate=20",
                "--admin-wait=0.2,0.5",
                "--api-wait=0.2,0.5",
            ]
    elif name == "ingest":
        command = py + ["bench/ingest.py", f"--database={database}"]
        if quick:
            command += ["--writers=2", "--seconds=1", "--rounds=1"]
    elif name == "recorder":
        command = py + ["bench/recorder.py", f"--database={database}"]
        if quick:
            command += ["--saves=50", "--rounds=1"]
    elif name == "export":
        command = py + [
            "bench/export.py",
            f"--database={database}",
            "--org-slug=bench-org-001",
            # 100M: the largest organisation's newest 3M events (all of it at 10M, 2.6M).
            "--max-events=3000000",
            # Millions of rows per pass at 10M and beyond: two rounds keep it to minutes.
            f"--rounds={1 if quick else (3 if rows < 5_000_000 else 2)}",
        ]
    else:
        raise SystemExit(f"unknown benchmark {name!r}")
    return command + [f"--json={out}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scales",
        default=os.environ.get("SCALE", ""),
        help="sizes, e.g. 1M,10M (default), 100M (= 1M,10M,100M), 5k",
    )
    parser.add_argument("--orgs", type=int, default=50)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="benchmarks to run")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--report", default=str(ROOT / "bench" / "REPORT.md"))
    parser.add_argument("--chart", default=str(ROOT / "bench" / "report.png"))
    parser.add_argument("--quick", action="store_true", help="tiny runs: checks the machinery")
    args = parser.parse_args()

    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    for name in wanted:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    measured: list[tuple[str, str]] = []
    for label, rows in scales(args.scales):
        # Both logins on the size's database: the owner creates, migrates and loads it; the
        # benchmarks measure through the application's login.
        env = {**os.environ, "DEBUG": "false", **database_env(f"auditdesk_bench_{label.lower()}")}
        out_dir = Path(args.results) / label
        try:
            database = ensure_database(
                label, rows, min(args.orgs, max(1, rows // 100)), args.days, env
            )
        except Skipped as reason:
            print(f"[{label}] skipped: {reason}", flush=True)
            out_dir.mkdir(parents=True, exist_ok=True)
            for stale in out_dir.glob("*.json"):
                stale.unlink()
            (out_dir / "skipped.json").write_text(
                json.dumps({"benchmark": "skipped", "reason": str(reason)}) + "\n"
            )
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "skipped.json").unlink(missing_ok=True)
        measured.append((label, database))
        for name in wanted:
            if name in CROSS_SIZE:
                continue
            print(f"\n=== [{label}] {name} ===", flush=True)
            out = out_dir / f"{name}.json"
            started = time.monotonic()
            with open(out_dir / f"{name}.log", "w") as log:
                process = subprocess.Popen(
                    bench_command(name, database, rows, args, out),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for line in process.stdout:
                    sys.stdout.write(line)
                    log.write(line)
                process.wait()
            if process.returncode != 0:
                failed.append(f"{label} {name}")
                print(f"[{label}] {name} FAILED (exit {process.returncode})", flush=True)
            else:
                print(f"[{label}] {name}: {time.monotonic() - started:.0f} s", flush=True)
    if "growth" in wanted and len(measured) >= 2:
        print("\n=== growth, across sizes ===", flush=True)
        out = Path(args.results) / "growth.json"
        command = [
            sys.executable,
            "bench/growth.py",
            "--sizes=" + ",".join(f"{label}={database}" for label, database in measured),
            f"--runs={2 if args.quick else 15}",
            f"--days={args.days}",
            f"--json={out}",
        ]
        env = {**os.environ, "DEBUG": "false", **database_env(measured[0][1])}
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            failed.append("growth")
    subprocess.run(
        [
            sys.executable,
            "bench/report.py",
            f"--results={args.results}",
            f"--report={args.report}",
            f"--chart={args.chart}",
        ],
        cwd=ROOT,
        check=True,
    )
    if failed:
        raise SystemExit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
