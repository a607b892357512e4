"""Helpers shared by the scale benchmarks: bench database URLs, load-average sampling, JSON out.

Every figure a benchmark reports goes out with the load average sampled while it was taken:
the machine has 2 cores shared with other work, so a figure without it cannot be judged.
"""

import json
import math
import os
import platform
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The two logins of docs/trust.md, as config/settings.py defaults them.
DEFAULT_URL = "postgres://auditdesk_web@127.0.0.1:5432/auditdesk"
DEFAULT_OWNER_URL = "postgres://auditdesk_owner@127.0.0.1:5432/auditdesk"


def app_base_url() -> str:
    """DATABASE_URL: the application's restricted login (what the measured paths use)."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def owner_base_url() -> str:
    """DATABASE_OWNER_URL: the schema's owner (creates databases, migrates, loads, seals).

    With only DATABASE_URL set (one login, as devservices' "single" mode) it is that login.
    """
    if os.environ.get("DATABASE_OWNER_URL"):
        return os.environ["DATABASE_OWNER_URL"]
    return os.environ.get("DATABASE_URL") or DEFAULT_OWNER_URL


def with_database(url: str, name: str) -> str:
    """The URL with its database name replaced (user, host, port and query kept)."""
    return urlsplit(url)._replace(path="/" + quote(name, safe="")).geturl()


def server_url() -> str:
    """The owner's URL on the maintenance database `postgres` (CREATE/DROP DATABASE)."""
    return with_database(owner_base_url(), "postgres")


def _bench_name(name: str) -> str:
    if "bench" not in name:
        raise SystemExit(
            f"refusing to benchmark against {name!r}: use an auditdesk_bench* database"
        )
    return name


def database_url(name: str) -> str:
    """The application's login on the bench database `name`."""
    return with_database(app_base_url(), _bench_name(name))


def owner_database_url(name: str) -> str:
    """The owner's login on the bench database `name`."""
    return with_database(owner_base_url(), _bench_name(name))


def database_env(name: str) -> dict[str, str]:
    """DATABASE_URL and DATABASE_OWNER_URL for the bench database `name` (same logins,
    same server, another database): what every bench process gets."""
    return {"DATABASE_URL": database_url(name), "DATABASE_OWNER_URL": owner_database_url(name)}


def ensure_database(name: str, *, reload: bool = False) -> bool:
    """Create the database `name` as the owner's login if it is missing (drop it first with
    `reload`); True if it was created. A database another role owns (made by a release with
    one superuser login) cannot be migrated or dropped by the owner: say so."""
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        found = conn.execute(
            "SELECT pg_get_userbyid(datdba), current_user FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
        if found and found[0] != found[1]:
            raise SystemExit(
                f"database {name!r} is owned by {found[0]!r}, not by {found[1]!r} (the "
                "DATABASE_OWNER_URL login, which creates, migrates and loads bench databases); "
                f"drop it as a superuser (psql -U postgres -c 'DROP DATABASE \"{name}\"') "
                "and run again"
            )
        if found and reload:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            found = None
        if not found:
            conn.execute(f'CREATE DATABASE "{name}"')
            return True
    return False


def org_event_counts(url: str, slug_like: str = "bench-org-%") -> dict[str, int]:
    """Events per organisation whose slug is LIKE `slug_like`, counted as the owner's login
    (`url`). Row-level security is forced on the owner too: each organisation's rows are
    visible within that organisation's context only, so they are counted one at a time."""
    import psycopg

    counts = {}
    with psycopg.connect(url, autocommit=True) as conn:
        orgs = conn.execute(
            "SELECT id, slug FROM accounts_organization WHERE slug LIKE %s ORDER BY id",
            (slug_like,),
        ).fetchall()
        for org_id, slug in orgs:
            conn.execute("SELECT set_config('app.org_id', %s, false)", (str(org_id),))
            counts[slug] = conn.execute(
                "SELECT count(*) FROM auditlog_auditevent WHERE org_id = %s", (org_id,)
            ).fetchone()[0]
    return counts


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"nothing answered on port {port}") from None
            time.sleep(0.2)


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average and whole-machine CPU use while a figure is taken."""

    def __init__(self, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[float] = []
        self._halt = threading.Event()
        self._cpu_start = _cpu_times()
        self.start_loadavg = os.getloadavg()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append(os.getloadavg()[0])
            self._halt.wait(self.every)

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join()
        busy0, total0 = self._cpu_start
        busy1, total1 = _cpu_times()
        samples = self.samples or [os.getloadavg()[0]]
        return {
            "loadavg_start": [round(x, 2) for x in self.start_loadavg],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
            "loadavg_1min_max": round(max(samples), 2),
            "loadavg_1min_mean": round(sum(samples) / len(samples), 2),
            "cpu_busy_percent": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        }


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (those still alive)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def postgres_pids(database: str | None = None) -> list[int]:
    """PostgreSQL server processes: the backends serving `database` (their process title
    names it), or every one on the machine (all databases: others' work too)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
                if database is not None:
                    title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    if f" {database} " not in title:
                        continue
                pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


def load_text(load: dict[str, Any]) -> str:
    """'load 2.1 (max 3.4), CPU 87% busy' for printing next to a figure."""
    return (
        f"load avg {load['loadavg_1min_mean']:.1f} (max {load['loadavg_1min_max']:.1f}), "
        f"CPU {load['cpu_busy_percent']:.0f}% busy"
    )


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def write_json(path: str | Path | None, data: dict[str, Any]) -> None:
    if not path:
        return
    data = {**data, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of raw values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
