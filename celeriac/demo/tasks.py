"""The demo's tasks, written as for Celery."""

from __future__ import annotations

from typing import Any

from celeriac import shared_task

HEARTBEATS: list[str] = []  # the beat ticks this process ran


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@shared_task
def mul(x: int, y: int) -> int:
    return x * y


@shared_task
def tsum(values: list[int]) -> int:
    return sum(values)


@shared_task
def word_count(text: str) -> int:
    return len(text.split())


@shared_task
def divide(x: float, y: float) -> float:
    return x / y


@shared_task(bind=True, max_retries=5)
def flaky(self: Any) -> str:
    """Fails twice (the upstream is down), retrying a moment later, then succeeds."""
    if self.request.retries < 2:
        raise self.retry(exc=ConnectionError("upstream down"), countdown=0.1)
    return f"ok after {self.request.retries} retries"


@shared_task(bind=True)
def heartbeat(self: Any) -> str:
    """Sent by beat every second."""
    HEARTBEATS.append(self.request.id)
    return "alive"


@shared_task
def nightly_report() -> str:
    return "report"


@shared_task
def pause(seconds: float) -> float:
    """Takes a while (what a worker stopped with SIGTERM finishes before it exits)."""
    import time

    time.sleep(seconds)
    return seconds
