"""`make test` includes the schemathesis run: no 5xx and no schema violation anywhere in the API."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation():
    # Its own database (named after this run's test database) and its own gunicorn.
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "schemathesis_check.py")],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    # schemathesis' report (stdout) first: what failed, with its reproduction; then errors.
    report = result.stdout[-8000:] + "\n" + result.stderr[-3000:]
    assert result.returncode == 0, report
