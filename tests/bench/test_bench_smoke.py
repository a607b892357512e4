"""`make bench` machinery at a tiny size: load, one benchmark, REPORT.md and the chart.

The real run (1M and 10M events, about an hour) is not part of `make test`; this checks in
seconds that the orchestration still works: bench/scale.py loads 2,000- and 3,000-event
auditdesk_bench_2k/_3k databases through load_bench_events (reused on later runs), runs the
viewer benchmark on each and the growth benchmark across them, reports a size the disk
cannot hold as skipped, and bench/report.py writes a report and a PNG from the JSON.
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
            "--scales=2k,3k,5000M",
            "--orgs=5",
            "--only=viewer,growth",
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
    # Growth: both sizes timed in one process, as ratios to the smaller.
    growth = json.loads((results / "growth.json").read_text())
    assert growth["sizes"] == ["2K", "3K"]
    assert growth["results"]["3K"]["page"]["growth"] > 0
    assert "Growth, measured in one process" in text
    assert "API first page server time 2K → 3K" in text
    # 5,000M events would need terabytes: reported as not measured, never faked.
    skipped = json.loads((results / "5000M" / "skipped.json").read_text())
    assert "GB of free disk" in skipped["reason"]
    assert "5000M events: every benchmark" in text and "**not measured**" in text
