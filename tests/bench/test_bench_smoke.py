"""`make bench` machinery at a tiny size: load, one benchmark, REPORT.md and the chart.

The real run (1M and 10M events, about an hour) is not part of `make test`; this checks in
seconds that the orchestration still works: bench/scale.py loads a 2,000-event
auditdesk_bench_2k database through load_bench_events (reused on later runs), runs the
viewer benchmark on it, and bench/report.py writes a report and a PNG from its JSON.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_make_bench_machinery_at_two_thousand_events(tmp_path: Path) -> None:
    results, report, chart = tmp_path / "results", tmp_path / "REPORT.md", tmp_path / "report.png"
    run = subprocess.run(
        [
            sys.executable,
            "bench/scale.py",
            "--scales=2k",
            "--orgs=5",
            "--only=viewer",
            "--quick",
            f"--results={results}",
            f"--report={report}",
            f"--chart={chart}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    viewer = json.loads((results / "2K" / "viewer.json").read_text())
    # (At 2,000 rows the planner rightly prefers sequential scans: plans are judged at 1M+.)
    assert {c["filters"] for c in viewer["combinations"]} >= {"default: last 7 days", "ip"}
    assert viewer["first_page"]["median_ms"] > 0
    assert viewer["load"]["loadavg_start"]
    text = report.read_text()
    assert "## 2K events" in text
    assert "Audit Log, first page" in text
    assert "PostgreSQL" in text
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
