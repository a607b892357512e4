"""The audit kernel stands alone: with only `auditlog` installed, every one of its modules
imports and no module of the product's other apps is loaded (the import-linter contracts in
pyproject.toml hold the same for every import; this holds it at run time too)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ABOVE_THE_KERNEL = (
    "accounts",
    "billing",
    "settings_app",
    "conversations",
    "worksession",
    "audit_read",
    "audit_web",
    "insights",
    "demo",
    "config",
)

SCRIPT = """
import importlib, json, pkgutil, sys
import django
django.setup()
import auditlog
names = sorted(m.name for m in pkgutil.walk_packages(auditlog.__path__, "auditlog."))
for name in names:
    importlib.import_module(name)
loaded = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"kernel": names, "packages": loaded}))
"""


def test_the_kernel_imports_alone_and_loads_no_other_app():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")} | {
        "DJANGO_SETTINGS_MODULE": "tests.architecture.kernel_settings"
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"auditlog.recorder", "auditlog.integrity", "auditlog.declare"} <= set(report["kernel"])
    assert len(report["kernel"]) > 30
    assert "core" in report["packages"]
    assert [name for name in ABOVE_THE_KERNEL if name in report["packages"]] == []
