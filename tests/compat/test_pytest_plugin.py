"""The pytest plugin, as a project's own test suite uses it (run in a pytest of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_TESTS = """
import pytest

pytest_plugins = ("celeriac.contrib.pytest",)


@pytest.fixture(scope="session")
def celery_config():
    return {"broker_url": "memory://", "result_backend": "memory://", "task_default_queue": "q1"}


def test_function_app_and_worker(celery_app, celery_worker):
    @celery_app.task
    def add(x, y):
        return x + y

    assert celery_app.conf.task_default_queue == "q1"
    assert add.delay(2, 2).get(timeout=10) == 4


def test_session_worker(celery_session_app, celery_session_worker):
    @celery_session_app.task
    def mul(x, y):
        return x * y

    assert mul.delay(3, 4).get(timeout=10) == 12


def test_failures_reach_the_test(celery_app, celery_worker):
    @celery_app.task
    def fails():
        raise KeyError("missing")

    with pytest.raises(KeyError):
        fails.delay().get(timeout=10)


def test_reload_after_defining_a_task(celery_app, celery_worker):
    @celery_app.task
    def late():
        return "late"

    celery_worker.reload()
    assert late.delay().get(timeout=10) == "late"


def test_reload_renews_a_prefork_worker(celery_app):
    from celeriac.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="prefork", perform_ping_check=False) as worker:
        @celery_app.task
        def forked_late():
            return "forked late"

        worker.reload()
        assert forked_late.delay().get(timeout=10) == "forked late"
"""


def test_plugin_fixtures_in_a_project_suite(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(PROJECT_TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
