"""Finding the app named by ``-A``, the way Celery finds it.

``proj:app`` names the attribute; ``proj.celery`` is tried as a module attribute and
then as a module. In a module: its ``app``, then its ``celery`` (when not a module),
then, for a package, the same search in ``<package>.celery``, then any ``Celery``
instance among its globals. The current directory is importable, as in Celery.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

import click

from ..compat.app import Celery

__all__ = ["LEVELS", "command_app", "find_app", "log_level", "write_pidfile"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "FATAL")


class AppNotFound(click.UsageError):
    """The ``-A`` value names no app."""


def _import(name: str) -> ModuleType:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(name)


def _symbol(name: str) -> Any:
    """``module:attr``, ``module.attr`` or ``module``."""
    if ":" in name:
        module, _, attr = name.partition(":")
        return getattr(_import(module), attr)
    module, _, attr = name.rpartition(".")
    if module:
        try:
            return getattr(_import(module), attr)
        except (ImportError, AttributeError):
            pass
    return _import(name)


def _in_module(module: ModuleType, name: str) -> Celery | None:
    for attr in ("app", "celery"):
        found = getattr(module, attr, None)
        if isinstance(found, Celery):
            return found
    if hasattr(module, "__path__"):
        try:
            return _in_module(_import(f"{name}.celery"), f"{name}.celery")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.celery":
                raise
    for value in vars(module).values():
        if isinstance(value, Celery):
            return value
    return None


def find_app(name: str) -> Celery:
    """The app ``-A name`` means; a usage error naming it when there is none."""
    try:
        found = _symbol(name)
    except ModuleNotFoundError as exc:
        raise AppNotFound(
            f"Unable to load celery application.\nThe module {exc.name} was not found."
        ) from exc
    if isinstance(found, Celery):
        return found
    if isinstance(found, ModuleType) and ":" not in name:
        app = _in_module(found, name)
        if app is not None:
            return app
    raise AppNotFound(
        f"Unable to load celery application.\nModule {name!r} has no celeriac app "
        "(a Celery(...) instance named app or celery, or in its celery module)."
    )


def command_app(ctx: Any, command: str) -> Celery:
    """The app ``-A`` chose, which ``command`` needs."""
    app: Celery | None = (ctx.obj or {}).get("app")
    if app is None:
        raise click.UsageError(f"{command} needs an app: celeriac -A proj {command}")
    return app


def log_level(value: str) -> str:
    """A ``--loglevel`` value, upper-cased; a usage error when it is not a level."""
    level = str(value).upper()
    if level not in LEVELS:
        raise click.BadParameter(f"{value!r} is not one of {', '.join(LEVELS)}")
    return level


def write_pidfile(path: str) -> None:
    with open(path, "w") as out:
        out.write(f"{os.getpid()}\n")
