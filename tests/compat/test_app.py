"""The app: settings from objects and namespaces, autodiscovery, the current app,
finding it by ``-A``, the public import paths, and the pytest plugin's worker."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

import celeriac
from celeriac.cli._app import AppNotFound, find_app
from celeriac.compat.app import Celery, current_app
from celeriac.compat.testing import TestApp, start_worker
from celeriac.exceptions import ImproperlyConfigured, NotRegistered


def test_config_from_object_and_constructor_wins() -> None:
    class Config:
        broker_url = "memory://from-object"
        task_default_queue = "work"
        CELERYD_CONCURENCY = 4  # a typo: reported, never silently ignored

    app = Celery("c", broker="memory://")
    with pytest.warns(UserWarning, match="CELERYD_CONCURENCY"):
        app.config_from_object(Config)
    assert app.conf.task_default_queue == "work"
    assert app.conf.broker_url == "memory://"  # given to Celery(...) itself: it wins


def test_namespace_as_django_settings() -> None:
    settings = types.SimpleNamespace(
        CELERY_BROKER_URL="memory://",
        CELERY_TASK_ALWAYS_EAGER=True,
        DEBUG=True,
    )
    app = Celery("django")
    app.config_from_object(settings, namespace="CELERY")
    assert app.conf.broker_url == "memory://"
    assert app.conf.task_always_eager is True


def test_autodiscover_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "discoverme"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(
        "from celeriac import shared_task\n\n@shared_task\ndef found():\n    return 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    app = Celery("auto", broker="memory://")
    app.autodiscover_tasks(["discoverme"])
    assert "discoverme.tasks" not in sys.modules
    # as in Celery: a client process does not import them, a worker does as it starts
    assert "discoverme.tasks.found" not in app.tasks
    assert "discoverme.tasks" not in sys.modules
    app.import_default_modules()
    assert "discoverme.tasks.found" in app.tasks
    sys.modules.pop("discoverme.tasks", None)
    sys.modules.pop("discoverme", None)


def test_current_app_and_not_registered() -> None:
    app = Celery("now-current", broker="memory://")
    assert current_app() is app
    with pytest.raises(NotRegistered):
        app.tasks["missing.task"]
    other = Celery("later", broker="memory://", set_as_current=False)
    assert current_app() is app and other is not app


def test_find_app_like_celery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proj = tmp_path / "findproj"
    proj.mkdir()
    (proj / "__init__.py").write_text("")
    (proj / "celery.py").write_text(
        "from celeriac import Celery\napp = Celery('findproj', broker='memory://')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    app = find_app("findproj")
    assert app.main == "findproj"
    assert find_app("findproj.celery") is app
    assert find_app("findproj.celery:app") is app
    with pytest.raises(AppNotFound, match="was not found"):
        find_app("no_such_project_here")
    for name in [n for n in sys.modules if n.startswith("findproj")]:
        sys.modules.pop(name)


def test_public_import_paths() -> None:
    from celeriac.app.task import Context, Task
    from celeriac.canvas import Signature
    from celeriac.contrib.testing.worker import start_worker as exported
    from celeriac.result import AsyncResult, EagerResult
    from celeriac.signals import task_prerun
    from celeriac.states import SUCCESS
    from celeriac.utils.log import get_task_logger

    assert celeriac.Celery is Celery and celeriac.Task is Task
    assert exported is start_worker and SUCCESS == "SUCCESS"
    assert all((Context, Signature, AsyncResult, EagerResult, task_prerun, get_task_logger))


def test_unknown_pool_and_gevent_are_clear_errors() -> None:
    from celeriac.compat.worker import WorkerOptions, make_worker

    app = Celery("pools", broker="memory://")
    with pytest.raises(ImproperlyConfigured.__mro__[1], match="async def"):
        make_worker(app, WorkerOptions(pool="gevent"))
    with pytest.raises(ImproperlyConfigured.__mro__[1], match="unknown pool"):
        make_worker(app, WorkerOptions(pool="nope"))


def test_start_worker_runs_tasks_in_a_thread() -> None:
    app = TestApp()

    @app.task
    def mul(x: int, y: int) -> int:
        return x * y

    with start_worker(app, pool="solo") as worker:
        assert worker.hostname
        assert mul.delay(6, 7).get(timeout=10) == 42


def test_start_and_worker_main_run_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    app = Celery("cmd", broker="memory://")
    with pytest.raises(SystemExit) as done:
        app.start(["--version"])
    assert done.value.code == 0
    assert "celeriac, version" in capsys.readouterr().out
    with pytest.raises(ValueError, match="worker sub-command"):
        app.worker_main(["beat"])
    with pytest.raises(SystemExit) as done:
        app.worker_main(["worker", "-P", "gevent"])
    assert done.value.code == 2
    assert "async def" in capsys.readouterr().err


def test_mixed_old_and_new_names_is_improperly_configured() -> None:
    class Mixed:
        CELERY_ALWAYS_EAGER = True
        broker_url = "memory://"

    with pytest.raises(ImproperlyConfigured):
        Celery("mixed").config_from_object(Mixed)


def test_result_backend_elsewhere_and_serializer_mismatch_warn(redis_url: str) -> None:
    app = Celery("warns", broker=redis_url, backend="rpc://", result_serializer="msgpack")
    with pytest.warns(UserWarning, match="celeriac") as caught:
        app.core  # noqa: B018 (building the core reads the settings)
    text = " ".join(str(w.message) for w in caught)
    assert "rpc://" in text and "result_serializer" in text
    app.close()


def test_task_annotations_set_task_attributes() -> None:
    app = Celery(
        "annotated",
        broker="memory://",
        task_annotations=[{"annotated.slow": {"rate_limit": "1/s"}}, {"*": {"max_retries": 9}}],
    )

    @app.task(name="annotated.slow")
    def slow() -> None: ...

    app.core  # noqa: B018
    assert slow.rate_limit == "1/s"
    assert slow.max_retries == 9  # "*" applies to every task, as in Celery
    app.close()


def test_signing_keys_setting_signs_and_refuses_unsigned(redis_url: str, prefix: str) -> None:
    from tests.compat.conftest import drain

    signed = Celery(
        "signed", broker=redis_url, backend=redis_url,
        celeriac_key_prefix=prefix, celeriac_signing_keys=[b"k" * 32],
    )  # fmt: skip
    unsigned = Celery("unsigned", broker=redis_url, backend=redis_url, celeriac_key_prefix=prefix)

    @signed.task(name="signed.echo")
    def echo(x: int) -> int:
        return x

    good = echo.delay(1)
    unsigned.send_task("signed.echo", (2,))
    drain(signed)
    assert good.get(timeout=5) == 1
    dead = signed.core.sync_broker.dead_letters("celery")
    assert [d.reason for d in dead] == ["SignatureError"]
    rotated = Celery(
        "rotated", broker=redis_url, backend=redis_url,
        celeriac_key_prefix=prefix, celeriac_signing_keys=[b"n" * 32, b"k" * 32],
    )  # fmt: skip
    rotated.task(name="signed.echo")(lambda x: x)
    old = echo.delay(3)  # signed with the old key, run by a worker that has both
    drain(rotated)
    # the result is signed with the new key: read it where that key is known
    assert rotated.AsyncResult(old.id).get(timeout=5) == 3
    for app in (signed, unsigned, rotated):
        app.close()
