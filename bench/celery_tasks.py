"""The benchmark's Celery-style tasks, defined on the app given: the same code runs
under Celery (``bench/celery_app.py``) and under celeriac's Celery API
(``bench/compat_app.py``), as a project's tasks do after the import swap."""

from __future__ import annotations

import time
from typing import Any

from bench.common import SLEEP_SECONDS


def register(app: Any) -> tuple[Any, Any]:
    """Define ``bench.noop`` and ``bench.sleep`` on ``app`` (returns both), and the
    canvas scenarios' ``bench.total`` (a chord's body) and ``bench.inc`` (a chain step)."""

    @app.task(name="bench.total")
    def total(values: list[int]) -> int:
        return sum(values)

    @app.task(name="bench.inc")
    def inc(x: int) -> int:
        return x + 1

    @app.task(name="bench.noop")
    def noop(i: int) -> int:
        return i

    @app.task(name="bench.sleep")
    def sleep(i: int) -> int:
        time.sleep(SLEEP_SECONDS)  # cooperative under -P gevent (Celery monkey-patches)
        return i

    return noop, sleep
