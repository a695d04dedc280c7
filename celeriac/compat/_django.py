"""Celery's Django fix-up, for Django projects that move over unchanged.

When ``DJANGO_SETTINGS_MODULE`` is set and Django is installed, every app gets it (as
Celery's apps do):

* the project directory (the current one) goes first on ``sys.path``;
* a worker calls ``django.setup()`` (and Django's system checks, unless
  ``CELERY_SKIP_CHECKS`` is set) before it imports the task modules, so that tasks can
  import models;
* ``autodiscover_tasks()`` without packages reads the installed apps' names;
* in a worker, database connections are closed before and after each task (Django's
  connections are not meant to live across requests) and caches after; the children of
  the process pool drop the connections they inherited instead of sharing the parent's;
* tasks have ``delay_on_commit`` and ``apply_async_on_commit``: sent once the current
  database transaction commits (Celery's ``DjangoTask``; see ``task.py``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

from . import signals
from .exceptions import FixupWarning

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["DjangoFixup", "fixup"]

NOT_INSTALLED = (
    "the environment variable DJANGO_SETTINGS_MODULE is set but Django is not installed: "
    "the Django fix-ups are not applied"
)


def fixup(app: Celery) -> DjangoFixup | None:
    """The fix-up for ``app`` when this process runs a Django project, else None."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    try:
        importlib.import_module("django")
    except ImportError:
        warnings.warn(NOT_INSTALLED, FixupWarning, stacklevel=3)
        return None
    return DjangoFixup(app).install()


class DjangoFixup:
    def __init__(self, app: Celery) -> None:
        self.app = app
        self._worker_installed = False

    def install(self) -> DjangoFixup:
        if os.getcwd() not in sys.path[:1]:
            sys.path.insert(0, os.getcwd())
        signals.import_modules.connect(self.on_import_modules, sender=self.app, weak=False)
        signals.worker_init.connect(self.on_worker_init, weak=False)
        return self

    def on_import_modules(self, **kwargs: Any) -> None:
        """Before a worker imports the task modules: Django's apps are loaded."""
        django = importlib.import_module("django")
        django.setup()
        if not os.environ.get("CELERY_SKIP_CHECKS"):
            checks = importlib.import_module("django.core.checks")
            checks.run_checks()

    def on_worker_init(self, sender: Any = None, **kwargs: Any) -> None:
        worker_app = getattr(sender, "app", None)
        if worker_app is not None and worker_app not in (self.app, self.app.core):
            return  # another app's worker: its own fix-up handles it
        if self._worker_installed:
            return
        self._worker_installed = True
        signals.task_prerun.connect(self.on_task_prerun, weak=False)
        signals.task_postrun.connect(self.on_task_postrun, weak=False)
        signals.worker_process_init.connect(self.on_worker_process_init, weak=False)
        close_database()
        close_caches()

    def on_task_prerun(self, sender: Any = None, **kwargs: Any) -> None:
        if not _eager(sender):
            close_database()

    def on_task_postrun(self, sender: Any = None, **kwargs: Any) -> None:
        if not _eager(sender):
            close_database()
            close_caches()

    def on_worker_process_init(self, **kwargs: Any) -> None:
        """A new child of the process pool: forget the parent's connections without
        touching them (closing a shared socket would break the parent's)."""
        db = importlib.import_module("django.db")
        for connection in db.connections.all():
            raw = getattr(connection, "connection", None)
            if raw is not None:
                with contextlib.suppress(AttributeError, OSError, TypeError):
                    os.close(raw.fileno())
        close_database()
        close_caches()


def _eager(task: Any) -> bool:
    request = getattr(task, "request", None)
    return bool(getattr(request, "is_eager", False))


def close_database() -> None:
    db = importlib.import_module("django.db")
    for connection in db.connections.all(initialized_only=True):
        try:
            connection.close()
        except db.InterfaceError:
            pass
        except db.DatabaseError as exc:
            if "closed" not in str(exc) and "not connected" not in str(exc):
                raise


def close_caches() -> None:
    cache = importlib.import_module("django.core.cache")
    with contextlib.suppress(TypeError, AttributeError):
        cache.close_caches()
