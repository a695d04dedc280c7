"""A worker in its own process, killed with SIGKILL in the middle of a task: the message
was not acknowledged (acknowledgement comes only with the stored outcome), so it is still
there, pending, and no result was recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from celeriac.core import App, RedisBroker
from celeriac.core.keys import GROUP

WORKER = textwrap.dedent(
    """
    import sys, time
    from celeriac.core import App, RedisBroker, Worker, run

    app = App(RedisBroker(sys.argv[1], prefix=sys.argv[2]))

    @app.task(name="slow")
    def slow(marker: str) -> str:
        open(marker, "w").close()
        time.sleep(60)
        return "never"

    run(Worker(app).run)
    """
)


def test_sigkill_mid_task_leaves_the_message_pending(
    redis_url: str, prefix: str, tmp_path: Path
) -> None:
    app = App(RedisBroker(redis_url, prefix=prefix))
    marker = tmp_path / "started"

    @app.task(name="slow")
    def slow(marker: str) -> str:
        return "unused here"

    handle = slow.enqueue_sync(str(marker))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    proc = subprocess.Popen([sys.executable, str(script), redis_url, prefix], env=env)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, "worker exited"
            assert time.monotonic() < deadline, "task never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    assert handle.record() is None  # no result was stored...
    client = redis.Redis.from_url(redis_url)
    try:
        assert isinstance(app.broker, RedisBroker)
        stream = app.broker.keys.stream(app.default_queue, 0)
        pending = client.xpending(stream, GROUP)
        entries = client.xrange(stream)
    finally:
        client.close()
        app.close()
    assert pending["pending"] == 1  # ...and the message is still there, owned by the dead worker
    assert len(entries) == 1
