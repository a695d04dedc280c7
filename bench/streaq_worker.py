"""One streaQ worker process: ``python -m bench.streaq_worker --concurrency 100``.

Runs the worker through its public ``run_sync()``, as ``streaq run`` does, but with
logging at WARNING (the CLI only offers INFO or DEBUG).
"""

from __future__ import annotations

import argparse
import logging

from bench.common import LOG_LEVEL


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=LOG_LEVEL)
    from bench.streaq_app import make_worker

    worker, _, _ = make_worker(args.concurrency)
    worker.run_sync()


if __name__ == "__main__":
    main()
