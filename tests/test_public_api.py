"""Public modules list what they export, sorted, and every name exists.

Sorted as ruff's RUF022 sorts: CONSTANTS, then Classes, then functions."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "celeriac",
    "celeriac.app",
    "celeriac.app.task",
    "celeriac.canvas",
    "celeriac.compat.app",
    "celeriac.compat.canvas",
    "celeriac.compat.exceptions",
    "celeriac.compat.log",
    "celeriac.compat.result",
    "celeriac.compat.routing",
    "celeriac.compat.signals",
    "celeriac.compat.states",
    "celeriac.compat.task",
    "celeriac.compat.testing",
    "celeriac.compat.worker",
    "celeriac.contrib.pytest",
    "celeriac.contrib.testing.worker",
    "celeriac.exceptions",
    "celeriac.result",
    "celeriac.schedules",
    "celeriac.signals",
    "celeriac.states",
    "celeriac.utils.log",
    "celeriac.core",
    "celeriac.core.broker",
    "celeriac.core.errors",
    "celeriac.core.result",
    "celeriac.core.serializers",
    "celeriac.core.worker",
]


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key)
    assert len(set(exported)) == len(exported)
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing


def test_every_core_error_has_a_docstring() -> None:
    errors = importlib.import_module("celeriac.core.errors")
    for name in errors.__all__:
        assert getattr(errors, name).__doc__, name
