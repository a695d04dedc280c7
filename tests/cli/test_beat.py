"""``celeriac -A proj beat``: the scheduler alone, as operators run it; two of them at
once still send each tick once, and SIGTERM stops them cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from celeriac.cli.main import cli
from celeriac.compat.app import Celery
from tests.compat.conftest import drain

PROJECT = """
from celeriac import Celery

app = Celery("beatproj", broker={url!r}, backend={url!r}, celeriac_key_prefix={prefix!r})
app.conf.beat_schedule = {{"tick": {{"task": "beatproj.tick", "schedule": 0.3}}}}


RAN = []


@app.task(name="beatproj.tick", bind=True)
def tick(self):
    RAN.append(self.request.id)
"""


def test_beat_needs_an_app_and_refuses_what_it_cannot_do() -> None:
    runner = CliRunner()
    assert "beat needs an app" in runner.invoke(cli, ["beat"]).output
    app = Celery("x", broker="memory://")
    detached = runner.invoke(cli, ["beat", "--detach"], obj={"app": app})
    assert detached.exit_code == 2 and "--detach is not supported" in detached.output
    other = runner.invoke(
        cli, ["beat", "-S", "django_celery_beat.schedulers:DatabaseScheduler"], obj={"app": app}
    )
    assert other.exit_code == 2 and "is not available" in other.output
    loud = runner.invoke(cli, ["beat", "-l", "LOUD"], obj={"app": app})
    assert loud.exit_code == 2


@pytest.mark.slow
def test_two_beats_send_each_tick_once_and_stop_on_sigterm(
    tmp_path: Path, redis_url: str, prefix: str
) -> None:
    (tmp_path / "beatproj.py").write_text(PROJECT.format(url=redis_url, prefix=prefix))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    command = [sys.executable, "-m", "celeriac", "-A", "beatproj", "beat", "-l", "INFO"]
    command += ["--max-interval", "0.2", "-s", str(tmp_path / "celerybeat-schedule")]
    logs = [tmp_path / f"beat{i}.log" for i in range(2)]
    beats = [
        subprocess.Popen([*command, "-f", str(log)], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for log in logs
    ]  # fmt: skip
    try:
        # at least four ticks sent (a slow machine takes longer to start both beats)
        client = redis.Redis.from_url(redis_url)
        stream = f"{prefix}:{{celery}}:stream:"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if sum(client.xlen(key) for key in client.scan_iter(f"{stream}*")) >= 4:
                break
            time.sleep(0.1)
        client.close()
        for proc in beats:
            assert proc.poll() is None, proc.communicate()[0]
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=20)[0].decode() for proc in beats]
        assert [proc.returncode for proc in beats] == [0, 0], outputs
    finally:
        for proc in beats:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert all("celeriac beat v" in out and "maxinterval -> 0.20" in out for out in outputs)
    text = "".join(log.read_text() for log in logs)
    assert "beat: Starting..." in text
    assert "Scheduler: Sending due task tick (beatproj.tick)" in text
    sys.path.insert(0, str(tmp_path))
    try:
        import beatproj  # type: ignore[import-not-found]

        sent = beatproj.app.core.sync_broker.stats("celery").ready
        drain(beatproj.app)
        ran = list(beatproj.RAN)
        beatproj.app.close()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("beatproj", None)
    assert sent >= 4
    assert len(ran) == sent and len(set(ran)) == len(ran)  # no tick sent twice
