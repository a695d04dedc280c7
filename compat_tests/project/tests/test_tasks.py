"""The project's own tests, written against Celery: eager calls, the fixtures of
Celery's pytest plugin, and the in-thread worker on the project's app."""

import pytest
from celery.contrib.testing.worker import start_worker
from celery.exceptions import MaxRetriesExceededError
from proj import tasks
from proj.celery import app


def test_call_directly():
    assert tasks.add(2, 3) == 5


def test_apply_runs_eagerly():
    result = tasks.add.apply(args=(4, 5))
    assert result.get() == 9
    assert result.successful()


def test_apply_failure_is_stored_on_the_result():
    result = tasks.fail.apply(args=("eager boom",))
    assert result.failed()
    with pytest.raises(ValueError, match="eager boom"):
        result.get()


def test_eager_retry_runs_until_it_succeeds():
    assert tasks.flaky.apply(args=(2,)).get() == 2


def test_eager_retry_gives_up():
    with pytest.raises(MaxRetriesExceededError):
        tasks.always_retry.apply().get()


def test_always_eager_setting(celery_app):
    celery_app.conf.task_always_eager = True

    @celery_app.task
    def double(x):
        return x * 2

    assert double.delay(21).get() == 42


def test_fixture_worker_runs_a_new_task(celery_app, celery_worker):
    @celery_app.task
    def mul(x, y):
        return x * y

    celery_worker.reload()
    assert mul.delay(4, 4).get(timeout=10) == 16


def test_start_worker_on_the_projects_app():
    with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
        assert tasks.add.delay(20, 22).get(timeout=10) == 42
        with pytest.raises(ValueError, match="threaded boom"):
            tasks.fail.delay("threaded boom").get(timeout=10)
