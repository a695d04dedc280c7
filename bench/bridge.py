"""Mixed fleets: how fast Celery producers' tasks drain through a Celery worker and
through a celeriac worker reading Celery's queue (``--celery-queues``).

    .venv/bin/python -m bench.bridge [--n 5000] [--runs 2]

Each run: a fresh redis-server; a Celery client fills the queue with N no-op adds; then
one worker (prefork -c 2) starts; tasks/s = N / (last result stored - first result
stored), results read where Celery's AsyncResult reads them. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from tests.redis_server import RedisServer

PROJECT = """
import os
from {package} import Celery

app = Celery("wbapp", broker=os.environ["WB_URL"], backend=os.environ["WB_URL"]{extra})
app.conf.task_default_queue = "wb"


@app.task(name="wb.add")
def add(x, y):
    return x + y
"""
WORKERS = {
    "Celery prefork -c 2": ["celery", "-A", "wbapp", "worker", "-Q", "wb", "--without-gossip",
                            "--without-mingle", "--without-heartbeat"],
    "celeriac prefork -c 2, --celery-queues": ["celeriac", "-A", "wbapp_c", "worker", "-Q", "wb",
                                               "--celery-queues", "wb"],
}  # fmt: skip


def _fill(url: str, n: int, root: Path) -> list[str]:
    sys.path.insert(0, str(root))
    os.environ["WB_URL"] = url
    import wbapp  # type: ignore[import-not-found]

    ids = [wbapp.app.send_task("wb.add", args=(i, i)).id for i in range(n)]
    wbapp.app.close()
    sys.modules.pop("wbapp")
    sys.path.remove(str(root))
    return ids


def _drain(url: str, ids: list[str], argv: list[str], root: Path) -> float:
    client = redis.Redis.from_url(url)
    keys = [f"celery-task-meta-{task_id}" for task_id in ids]
    program = str(Path(sys.executable).with_name(argv[0]))
    command = [program, *argv[1:], "-P", "prefork", "-c", "2", "-l", "WARNING"]
    env = {**os.environ, "WB_URL": url, "PYTHONPATH": str(root)}
    worker = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    first = None
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = sum(client.exists(*keys[k : k + 500]) for k in range(0, len(keys), 500))
            if first is None and done:
                first = time.monotonic()
            if done == len(keys):
                assert first is not None
                return len(keys) / max(time.monotonic() - first, 1e-9)
            time.sleep(0.005)
        raise RuntimeError(f"{argv[0]} did not drain {len(keys)} tasks in 300 s")
    finally:
        worker.terminate()
        worker.wait(30)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {name: [] for name in WORKERS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "wbapp.py").write_text(PROJECT.format(package="celery", extra=""))
        extra = ', celeriac_key_prefix="wbc"'
        (root / "wbapp_c.py").write_text(PROJECT.format(package="celeriac", extra=extra))
        for _ in range(args.runs):
            for name, argv in WORKERS.items():
                server = RedisServer.start()
                try:
                    ids = _fill(server.url, args.n, root)
                    rows[name].append(_drain(server.url, ids, argv, root))
                finally:
                    server.stop()
    print(f"\n{args.n:,} no-op tasks sent by a Celery client, drained by one worker:\n")
    print("| worker | tasks/s (each run) |\n|---|--:|")
    for name, speeds in rows.items():
        print(f"| {name} | {', '.join(f'{s:,.0f}' for s in speeds)} |")


if __name__ == "__main__":
    main()
