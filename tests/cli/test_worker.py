"""``celeriac -A proj worker`` as operators run it: a real process on the private Redis,
a task through it, Celery-style log lines, and a warm shutdown on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from celeriac.cli.main import cli
from celeriac.compat.app import Celery
from celeriac.core.errors import ConfigurationError

PROJECT = """
from celeriac import Celery, signals
from celeriac.utils.log import get_task_logger

app = Celery("cliproj", broker={url!r}, backend={url!r}, celeriac_key_prefix={prefix!r})
logger = get_task_logger(__name__)
HEARD = {heard!r}
SIGNALS = (signals.worker_init, signals.worker_ready, signals.worker_shutting_down,
           signals.worker_shutdown, signals.worker_process_init)


def note(signal=None, sender=None, **kw):
    with open(HEARD, "a") as out:
        print(signal.name, kw.get("how", ""), file=out)


for sig in SIGNALS:
    sig.connect(note, weak=False)


@app.task
def add(x, y):
    logger.info("adding %s and %s", x, y)
    return x + y
"""


def test_worker_needs_an_app() -> None:
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 2
    assert "worker needs an app" in result.output


def test_bad_loglevel_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["worker", "-l", "LOUD"], obj={"app": Celery("x")})
    assert result.exit_code == 2 and "LOUD" in result.output


@pytest.mark.slow
def test_worker_process_runs_tasks_and_stops_warm(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    heard_at = str(tmp_path / "signals.log")
    project = PROJECT.format(url=redis_url, prefix=prefix, heard=heard_at)
    (tmp_path / "cliproj.py").write_text(project)
    log = tmp_path / "worker.log"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "celeriac", "-A", "cliproj", "worker", "-l", "INFO"]
    command += ["-P", "prefork", "-c", "1", "-n", "w1@%h", "-f", str(log)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env)
    try:
        sys.path.insert(0, str(tmp_path))
        import cliproj  # type: ignore[import-not-found]

        assert cliproj.add.delay(2, 3).get(timeout=30) == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        sys.path.remove(str(tmp_path))
        loaded = sys.modules.pop("cliproj", None)
        if loaded is not None:
            loaded.app.close()  # its connections to the private Redis
        for sig in getattr(loaded, "SIGNALS", ()):  # this process heard them too: stop that
            sig.disconnect(loaded.note)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "ready." in text
    assert "cliproj.add[" in text and "]: adding 2 and 3" in text
    assert "succeeded in" in text
    heard = (tmp_path / "signals.log").read_text().split("\n")
    lines = [line.strip() for line in heard if line]
    assert "worker_process_init" in lines  # in the child: its time against ready varies
    assert [line for line in lines if line != "worker_process_init"] == [
        "worker_init",
        "worker_ready",
        "worker_shutting_down Warm",
        "worker_shutdown",
    ]


def test_the_banner_shows_config_queues_and_tasks_as_celerys() -> None:
    from celeriac.compat.worker import WorkerOptions, banner, make_worker

    url = "redis://:secret@localhost:6379/1"
    app = Celery("bannered", broker=url, backend=url)

    @app.task(name="bannered.add")
    def add(x: int, y: int) -> int:
        return x + y

    options = WorkerOptions(queues=["celery", "images"], pool="threads", concurrency=3)
    shown = banner(app, options, make_worker(app, options))
    assert shown.startswith(" -------------- celery@")
    assert ".> transport:   redis://:********@localhost:6379/1" in shown
    assert ".> results:     redis://:********@localhost:6379/1" in shown
    assert "secret" not in shown
    assert ".> concurrency: 3 (threads)" in shown
    assert "                .> celery\n                .> images" in shown
    assert "[tasks]" not in shown  # at WARNING, as Celery
    options.loglevel = "INFO"
    listed = banner(app, options, make_worker(app, options))
    assert "[tasks]\n  . bannered.add\n" in listed and "celery.map" not in listed
    app.close()


def test_flags_reach_the_worker_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from celeriac.cli import worker as worker_command

    seen: list[Any] = []
    monkeypatch.setattr(worker_command, "run_worker", lambda app, options: seen.append(options))
    argv = ["worker", "-Q", "high,low", "--strict-order", "-c", "3", "-P", "threads", "-B"]
    result = CliRunner().invoke(cli, argv, obj={"app": Celery("x", broker="memory://")})
    assert result.exit_code == 0, result.output
    (options,) = seen
    assert (options.queues, options.strict_order, options.concurrency) == (["high", "low"], True, 3)
    assert (options.pool, options.beat) == ("threads", True)


def test_autoscale_is_read_as_celery_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from celeriac.cli import worker as worker_command
    from celeriac.compat.worker import WorkerOptions, banner, make_worker, parse_autoscale

    assert parse_autoscale("10,3") == (10, 3)
    assert parse_autoscale("10") == (10, 0)
    assert parse_autoscale(None) is None
    seen: list[Any] = []
    monkeypatch.setattr(worker_command, "run_worker", lambda app, options: seen.append(options))
    app = Celery("scaled", broker="memory://")
    result = CliRunner().invoke(cli, ["worker", "--autoscale=6,2"], obj={"app": app})
    assert result.exit_code == 0, result.output
    assert seen[0].autoscale == (6, 2)
    for bad in ("ten", "3,5", "0", "1,2,3"):
        result = CliRunner().invoke(cli, ["worker", "--autoscale", bad], obj={"app": app})
        assert result.exit_code == 2, bad
        assert "Invalid value for --autoscale: " in result.output
    options = WorkerOptions(autoscale=(6, 2), pool="prefork")
    app.conf.worker_prefetch_multiplier = 3
    worker = make_worker(app, options)
    assert worker.autoscaler is not None and worker.sync_concurrency == 2
    assert worker.prefetch == 18  # Celery: the maximum times the multiplier
    assert ".> concurrency: {min=2, max=6} (prefork)" in banner(app, options, worker)
    assert worker.autoscaler.keepalive == 30
    monkeypatch.setenv("AUTOSCALE_KEEPALIVE", "5")  # Celery's environment variable
    assert make_worker(app, options).autoscaler.keepalive == 5  # type: ignore[union-attr]
    monkeypatch.setenv("AUTOSCALE_KEEPALIVE", "soon")
    with pytest.raises(ConfigurationError, match="AUTOSCALE_KEEPALIVE must be a number"):
        make_worker(app, options)
    app.close()


def test_the_async_pool_counts_async_def_tasks_with_c() -> None:
    from celeriac.compat.worker import WorkerOptions, banner, make_worker

    app = Celery("aio", broker="memory://")
    options = WorkerOptions(pool="async", concurrency=500)
    worker = make_worker(app, options)
    assert worker.concurrency == 500 and worker.sync_pool == "threads"
    assert worker.sync_concurrency == (os.cpu_count() or 1)
    shown = banner(app, options, worker)
    assert f".> concurrency: 500 (async), plain functions: {os.cpu_count() or 1} threads" in shown
    default = make_worker(app, WorkerOptions(pool="async"))
    assert default.concurrency == 100
    for green in ("gevent", "eventlet"):
        with pytest.raises(ConfigurationError, match="use -P async"):
            make_worker(app, WorkerOptions(pool=green))
    app.close()
