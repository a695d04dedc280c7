"""How long packing one Redis command takes on the asyncio connections celeriac makes,
against redis-py's own asyncio connection, for the redis-py installed here.

    .venv/bin/python -m bench.packing [--n 200000]           # the pinned redis-py
    .venv-lowest/bin/python -m bench.packing                 # redis-py 5.0.1

No server is needed: only the bytes are made. The commands are the shapes a busy worker
sends most: the script that stores a batch of results (EVALSHA with keys and payloads) and
a fetch (XREADGROUP). Prints a Markdown table: microseconds per command, the best of five
rounds.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio as aioredis

from celeriac.core.broker import _connect

COMMANDS: dict[str, tuple[Any, ...]] = {
    "EVALSHA, 10 results": (
        "EVALSHA",
        "f" * 40,
        20,
        *(f"celeriac:{{q}}:r:{i:032x}" for i in range(20)),
        *(b'{"status":"SUCCESS","result":4,"date_done":1765152000.0}' for _ in range(10)),
        86400000,
        1765152000.5,
    ),
    "XREADGROUP": (
        "XREADGROUP",
        "GROUP",
        "celeriac",
        "worker-1",
        "COUNT",
        64,
        "BLOCK",
        100,
        "STREAMS",
        "celeriac:{q}:s:0",
        ">",
    ),
}


def per_call(pack: Callable[..., Any], args: tuple[Any, ...], n: int) -> float:
    rounds = timeit.repeat(lambda: pack(*args), number=n, repeat=5)
    return min(rounds) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="commands per round")
    n = parser.parse_args().n
    theirs = aioredis.Connection()
    pool = _connect.async_client(_connect.parse("redis://127.0.0.1:1/0"), {}).connection_pool
    ours = pool.connection_class(**pool.connection_kwargs)
    how = "hiredis, as given" if type(ours) is not aioredis.Connection else "redis-py's own"
    print(f"redis-py {redis.__version__}; celeriac packs with: {how}\n")
    print("| command | redis-py's asyncio connection | celeriac's | |")
    print("|---|--:|--:|--:|")
    for name, args in COMMANDS.items():
        a, b = per_call(theirs.pack_command, args, n), per_call(ours.pack_command, args, n)
        print(f"| {name} | {a:.2f} us | {b:.2f} us | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
