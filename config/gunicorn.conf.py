"""gunicorn settings for Auditdesk (`gunicorn config.wsgi -c config/gunicorn.conf.py`).

Sized by measurement on a 2-core machine (bench/load.py, bench/REPORT.md): pages spend
most of their time in Python, a part waiting on PostgreSQL, so a few processes with a few
threads each keep both cores busy without queueing requests behind one slow page.
GUNICORN_WORKERS / GUNICORN_THREADS override the defaults.
"""

import multiprocessing
import os

workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Streams (exports) can run long; keep-alive lets API clients reuse their connection.
keepalive = 5
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
