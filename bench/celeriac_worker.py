"""One celeriac worker process: ``python -m bench.celeriac_worker --concurrency 100``."""

from __future__ import annotations

import argparse

from bench.common import CELERIAC_QUEUE, LOG_LEVEL, use_uvloop
from celeriac.core import Worker, run, setup_logging


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=100)
    args = parser.parse_args()
    setup_logging(LOG_LEVEL)
    from bench.celeriac_app import app

    worker = Worker(app, queues=[CELERIAC_QUEUE], concurrency=args.concurrency)
    run(worker.run, uvloop=use_uvloop())


if __name__ == "__main__":
    main()
