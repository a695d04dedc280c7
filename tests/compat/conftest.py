"""Fixtures for the façade: a Celery app on the private Redis (or memory://), and a
worker run in this process until the queues are drained."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from celeriac.compat import app as app_module
from celeriac.compat.app import Celery
from celeriac.compat.worker import WorkerOptions, make_worker
from celeriac.core.runtime import run


@pytest.fixture(autouse=True)
def _no_current_app_leaks() -> Iterator[None]:
    """Each test starts and ends with no current app and no shared tasks."""
    saved = (app_module._current, app_module._default, list(app_module._shared))
    app_module._current = app_module._default = None
    try:
        yield
    finally:
        app_module._current, app_module._default = saved[0], saved[1]
        app_module._shared[:] = saved[2]


def make_app(url: str, prefix: str, **conf: Any) -> Celery:
    return Celery("tests", broker=url, backend=url, celeriac_key_prefix=prefix, **conf)


@pytest.fixture(params=["memory", "redis"])
def celery_app(request: pytest.FixtureRequest, prefix: str) -> Iterator[Celery]:
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    app = make_app(url, prefix)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def redis_app(redis_url: str, prefix: str) -> Iterator[Celery]:
    app = make_app(redis_url, prefix)
    try:
        yield app
    finally:
        app.close()


def drain(app: Celery, pool: str = "threads", limit: float = 20, **options: Any) -> None:
    """Run a worker for ``app`` until its queues are empty (at most ``limit`` s)."""
    options.setdefault("concurrency", 2)
    worker = make_worker(app, WorkerOptions(pool=pool, **options))

    async def go() -> None:
        try:
            with anyio.fail_after(limit):
                await worker.run(burst=True)
        finally:
            await app.core.aclose()

    run(functools.partial(go), uvloop=False)
