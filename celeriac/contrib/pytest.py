"""Celery's pytest plugin (``pytest_plugins = ("celeriac.contrib.pytest",)``): the
fixtures of ``celery.contrib.pytest`` under the same names.

``celery_app``/``celery_worker`` are made per test, ``celery_session_app``/
``celery_session_worker`` once per session; override ``celery_config``,
``celery_parameters``, ``celery_includes``, ``celery_worker_pool`` and
``celery_worker_parameters`` (and their ``celery_session_*`` twins are read from the
same fixtures) to shape them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ..compat import app as app_module
from ..compat.app import Celery
from ..compat.testing import TestApp, TestWorkController, start_worker

__all__ = [
    "celery_app",
    "celery_config",
    "celery_enable_logging",
    "celery_includes",
    "celery_parameters",
    "celery_session_app",
    "celery_session_worker",
    "celery_worker",
    "celery_worker_parameters",
    "celery_worker_pool",
    "depends_on_current_app",
    "use_celery_app_trap",
]


def _app(config: Mapping[str, Any], parameters: Mapping[str, Any], includes: Any) -> Celery:
    app = TestApp(config=config, **dict(parameters))
    for module in includes or ():
        importlib.import_module(module)
    app.set_current()
    return app


@pytest.fixture(scope="session")
def use_celery_app_trap() -> bool:
    return False


@pytest.fixture(scope="session")
def celery_config() -> Mapping[str, Any]:
    return {}


@pytest.fixture(scope="session")
def celery_parameters() -> Mapping[str, Any]:
    return {}


@pytest.fixture(scope="session")
def celery_includes() -> Any:
    return ()


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    return "solo"


@pytest.fixture(scope="session")
def celery_worker_parameters() -> Mapping[str, Any]:
    return {}


@pytest.fixture(scope="session")
def celery_enable_logging() -> bool:
    return False


@pytest.fixture(scope="session")
def celery_session_app(
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_includes: Any,
) -> Iterator[Celery]:
    app = _app(celery_config, celery_parameters, celery_includes)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture(scope="session")
def celery_session_worker(
    celery_session_app: Celery,
    celery_includes: Any,
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[TestWorkController]:
    with start_worker(
        celery_session_app, pool=celery_worker_pool, **dict(celery_worker_parameters)
    ) as worker:
        yield worker


@pytest.fixture
def celery_app(
    celery_config: Mapping[str, Any],
    celery_parameters: Mapping[str, Any],
    celery_includes: Any,
) -> Iterator[Celery]:
    previous = app_module._current
    app = _app(celery_config, celery_parameters, celery_includes)
    try:
        yield app
    finally:
        app.close()
        app_module._current = previous


@pytest.fixture
def celery_worker(
    celery_app: Celery,
    celery_worker_pool: str,
    celery_worker_parameters: Mapping[str, Any],
) -> Iterator[TestWorkController]:
    with start_worker(
        celery_app, pool=celery_worker_pool, **dict(celery_worker_parameters)
    ) as worker:
        yield worker


@pytest.fixture
def depends_on_current_app(celery_app: Celery) -> None:
    celery_app.set_current()
