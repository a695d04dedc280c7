"""Celery's Django fix-up: a worker of a Django project sets Django up before importing
task modules, discovers the installed apps' tasks, closes database connections around
tasks; tasks have delay_on_commit. (A whole Django project runs in compat_tests.)"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from celeriac import signals
from celeriac.compat import _django
from celeriac.exceptions import FixupWarning, ImproperlyConfigured
from tests.compat.conftest import make_app

SETTINGS = """
SECRET_KEY = "tests"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "shopapp.apps.ShopConfig"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
"""


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A settings module and an app with a tasks module, importable; Django is set up
    at most once per process, so every test here shares them."""
    pytest.importorskip("django")
    root = tmp_path_factory.mktemp("djangoproj")
    (root / "djsettings.py").write_text(SETTINGS)
    app_dir = root / "shopapp"
    app_dir.mkdir()
    (app_dir / "__init__.py").write_text("")
    (app_dir / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n"
        "    name = 'shopapp'\n"
    )
    (app_dir / "tasks.py").write_text(
        "from celeriac import shared_task\n\n\n@shared_task\ndef hello():\n    return 'hi'\n"
    )
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))


def _without_django(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if Django were not installed (for celeriac's lazy imports of it)."""
    real = importlib.import_module

    def no_django(name: str, package: str | None = None) -> ModuleType:
        if name == "django" or name.startswith("django."):
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", no_django)


def test_no_fixup_outside_a_django_project(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = make_app("memory://", prefix)
    assert app._fixup is None
    app.close()


def test_django_missing_is_a_warning(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "somewhere.settings")
    _without_django(monkeypatch)
    with pytest.warns(FixupWarning, match="Django is not installed"):
        app = make_app("memory://", prefix)
    assert app._fixup is None
    app.close()


def test_a_worker_sets_django_up_and_discovers_the_apps(
    django_project: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "djsettings")
    app = make_app("memory://", prefix)
    assert app._fixup is not None
    app.autodiscover_tasks()  # no packages: the installed apps
    app.import_default_modules()  # as a worker starts: django.setup() first
    from django.apps import apps

    assert apps.ready
    assert "shopapp.tasks.hello" in app.tasks
    app.close()


def test_worker_signals_close_connections_around_tasks(
    django_project: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "djsettings")
    app = make_app("memory://", prefix)
    app.import_default_modules()
    closed: list[str] = []
    monkeypatch.setattr(_django, "close_database", lambda: closed.append("db"))
    monkeypatch.setattr(_django, "close_caches", lambda: closed.append("cache"))

    class Worker:
        def __init__(self, app: Any) -> None:
            self.app = app

    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    other = make_app("memory://", prefix + "x")  # not a Django app: no fix-up
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "djsettings")
    signals.worker_init.send(sender=Worker(other.core))
    assert closed == []  # another app's worker: this app's fix-up leaves it alone
    fixup = app._fixup
    assert fixup is not None
    signals.worker_init.send(sender=Worker(app.core))
    assert closed == ["db", "cache"]

    class Request:
        is_eager = False

    class Task:
        request = Request()

    signals.task_prerun.send(sender=Task())
    signals.task_postrun.send(sender=Task())
    assert closed == ["db", "cache", "db", "db", "cache"]
    Request.is_eager = True
    signals.task_prerun.send(sender=Task())
    assert len(closed) == 5  # eager calls run inside the caller's request: left alone
    signals.worker_process_init.send(sender=None)
    assert closed[5:] == ["db", "cache"]
    for signal, receiver in (
        (signals.task_prerun, fixup.on_task_prerun),
        (signals.task_postrun, fixup.on_task_postrun),
        (signals.worker_process_init, fixup.on_worker_process_init),
    ):
        signal.disconnect(receiver)
    other.close()
    app.close()


def test_delay_on_commit_waits_for_the_transaction(
    django_project: Path, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "djsettings")
    app = make_app("memory://", prefix, task_always_eager=True)
    app.import_default_modules()
    ran: list[int] = []

    @app.task
    def record(n: int) -> None:
        ran.append(n)

    from django.db import transaction

    with transaction.atomic():
        assert record.delay_on_commit(1) is None
        record.apply_async_on_commit((2,))
        assert ran == []
    assert ran == [1, 2]
    record.delay_on_commit(3)  # outside a transaction: at once
    assert ran == [1, 2, 3]
    app.close()


def test_delay_on_commit_needs_django(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("memory://", prefix)

    @app.task
    def noop() -> None:
        return None

    _without_django(monkeypatch)
    with pytest.raises(ImproperlyConfigured, match="need Django"):
        noop.delay_on_commit()
    app.close()
