"""Names and settings shared by the orchestrator, the clients and the workers.

The subprocesses learn where Redis is from the environment (``BENCH_REDIS_PORT``), so
the app modules can build their apps at import time, as real projects do.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CELERIAC_PREFIX = "bench-celeriac"
CELERIAC_QUEUE = "bench"
CELERY_QUEUE = "bench_celery"
CELERY_RESULT_DB = 1  # Celery's results live in their own database: DBSIZE counts them
STREAQ_QUEUE = "bench_streaq"

SLEEP_SECONDS = 0.01
LOG_LEVEL = "WARNING"


def redis_url(db: int = 0) -> str:
    return f"redis://127.0.0.1:{os.environ['BENCH_REDIS_PORT']}/{db}"


def use_uvloop() -> bool:
    return os.environ.get("BENCH_UVLOOP", "1") == "1"
