"""gunicorn settings for Auditdesk (`gunicorn config.wsgi -c config/gunicorn.conf.py`).

Sized by measurement on a 2-core machine (bench/load.py, bench/TUNING.md): pages spend
most of their time in Python, a part waiting on PostgreSQL, so several processes with two
threads each keep both cores busy without queueing requests behind one slow page.
GUNICORN_WORKERS / GUNICORN_THREADS override the defaults.
"""

import multiprocessing
import os

# 3 processes per core with 2 threads each: at 10M events under the load test, 6x2 beat
# 3x4, 4x2 and 8x1 (fewer threads per process contend less for the GIL; bench/TUNING.md).
workers = int(os.environ.get("GUNICORN_WORKERS", 3 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# gthread even with one thread: it keeps connections alive (API clients, browsers); sync
# workers close each one, which cost load-test clients multi-second reconnect stalls.
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Streams (exports) can run long; keep-alive lets API clients reuse their connection.
keepalive = 5
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


def post_worker_init(worker: object) -> None:
    """Once the app is loaded, take its objects out of the garbage collector's sight.

    Django, DRF and the app leave ~120,000 long-lived objects that every full collection
    walks: 68 ms on this machine, stalling every thread of the worker mid-request, about
    once per 200 pages. gc.freeze() moves them to the permanent generation (a full
    collection then took 3.7 ms); they are module-level objects that live as long as the
    process anyway.
    """
    import gc

    gc.collect()
    gc.freeze()
