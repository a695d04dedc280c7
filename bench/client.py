"""The producer side of each scenario, run in a subprocess of its own so that no
client state (connections, Celery's result subscriptions, event loops) outlives it.

``python -m bench.client SYSTEM ACTION --n N`` prints one JSON object on its last line:

* ``enqueue``      send N tasks one call at a time; ``{"seconds", "sent"}``
* ``enqueue-many`` send N tasks in batches of ``--batch``; ``{"seconds", "sent"}``
* ``fill``         send N tasks, quickly and untimed (the setup of drain and sleep)
* ``latency``      N sequential round trips enqueue -> result; ``{"samples_ms"}``
* ``chord``        one chord of N header tasks and a body, sent and waited for;
                   ``{"seconds"}`` (Celery API systems only)
* ``chain``        one chain of N steps, sent and waited for; ``{"seconds"}``

Every action first sends ``--warmup`` tasks (connections, scripts), not timed; ``sent``
counts them too.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

FIRST_RESULT_TIMEOUT = 60.0  # the worker may still be starting
RESULT_TIMEOUT = 10.0


def _chunks(n: int, size: int) -> list[range]:
    return [range(i, min(i + size, n)) for i in range(0, n, size)]


def _round_trips(n: int, warmup: int, call: Callable[[int, float], Any]) -> list[float]:
    for i in range(warmup):
        call(i, FIRST_RESULT_TIMEOUT)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i, RESULT_TIMEOUT)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _checked(value: Any, i: int) -> None:
    if value != i:
        raise RuntimeError(f"round trip {i} returned {value!r}")


# -- celeriac -------------------------------------------------------------------------------


def celeriac(args: argparse.Namespace) -> dict[str, Any]:
    from bench.celeriac_app import app, noop, sleep

    task = noop if args.kind == "noop" else sleep

    def one(i: int) -> None:
        task.enqueue_sync(i)

    def many(indices: range) -> None:
        app.enqueue_many_sync([task.message(i) for i in indices])

    def round_trip(i: int, timeout: float) -> None:
        _checked(task.enqueue_sync(i).result(timeout=timeout), i)

    try:
        return _sync_actions(args, one, many, round_trip)
    finally:
        app.close()


# -- Celery ---------------------------------------------------------------------------------


def celery(args: argparse.Namespace) -> dict[str, Any]:
    from bench import celery_app

    return _celery_api(args, celery_app)


def compat(args: argparse.Namespace) -> dict[str, Any]:
    """The same calls through celeriac's Celery API (the project after the swap)."""
    from bench import compat_app

    return _celery_api(args, compat_app)


def _celery_api(args: argparse.Namespace, module: Any) -> dict[str, Any]:
    task = module.noop if args.kind == "noop" else module.sleep
    if args.action in ("chord", "chain"):
        try:
            return _canvas(args, module)
        finally:
            module.app.close()

    def one(i: int) -> None:
        task.delay(i)

    def many(indices: range) -> None:  # Celery has no batch send: one delay per task
        for i in indices:
            task.delay(i)

    def round_trip(i: int, timeout: float) -> None:
        _checked(task.delay(i).get(timeout=timeout), i)

    try:
        return _sync_actions(args, one, many, round_trip)
    finally:
        module.app.close()


def _canvas(args: argparse.Namespace, module: Any) -> dict[str, Any]:
    """One workflow, timed from sending it to having its result."""
    tasks = module.app.tasks
    noop, total, inc = tasks["bench.noop"], tasks["bench.total"], tasks["bench.inc"]
    _checked(noop.delay(0).get(timeout=FIRST_RESULT_TIMEOUT), 0)  # the worker is up
    n, timeout = args.n, FIRST_RESULT_TIMEOUT + args.n * 0.01
    start = time.perf_counter()
    if args.action == "chord":
        result = module.chord(noop.s(i) for i in range(n))(total.s())
        _checked(result.get(timeout=timeout), n * (n - 1) // 2)
    else:
        result = module.chain(inc.s(0), *(inc.s() for _ in range(n - 1))).apply_async()
        _checked(result.get(timeout=timeout), n)
    return {"seconds": time.perf_counter() - start}


def _sync_actions(
    args: argparse.Namespace,
    one: Callable[[int], None],
    many: Callable[[range], None],
    round_trip: Callable[[int, float], None],
) -> dict[str, Any]:
    if args.action == "latency":
        return {"samples_ms": _round_trips(args.n, args.warmup, round_trip)}
    for i in range(args.warmup):
        one(i)
    start = time.perf_counter()
    if args.action == "enqueue":
        for i in range(args.n):
            one(i)
    else:  # enqueue-many, fill
        for indices in _chunks(args.n, args.batch):
            many(indices)
    return {"seconds": time.perf_counter() - start, "sent": args.warmup + args.n}


# -- streaQ (async only) --------------------------------------------------------------------


def streaq(args: argparse.Namespace) -> dict[str, Any]:
    import anyio

    from bench.common import use_uvloop

    options = {"use_uvloop": use_uvloop()}
    out: dict[str, Any] = anyio.run(_streaq, args, backend="asyncio", backend_options=options)
    return out


async def _streaq(args: argparse.Namespace) -> dict[str, Any]:
    from bench.streaq_app import make_worker

    worker, noop, sleep = make_worker()
    task = noop if args.kind == "noop" else sleep
    async with worker:
        if args.action == "latency":
            return await _streaq_round_trips(args, task)
        for i in range(args.warmup):
            await task.enqueue(i)
        start = time.perf_counter()
        if args.action == "enqueue":
            for i in range(args.n):
                await task.enqueue(i)
        else:  # enqueue-many, fill
            for indices in _chunks(args.n, args.batch):
                await worker.enqueue_many([task.enqueue(i) for i in indices])
        return {"seconds": time.perf_counter() - start, "sent": args.warmup + args.n}


async def _streaq_round_trips(args: argparse.Namespace, task: Any) -> dict[str, Any]:
    recorded: list[int] = []  # streaQ's own enqueue -> finish times (whole ms)

    async def round_trip(i: int, timeout: float) -> None:
        handle = await task.enqueue(i)
        result = await handle.result(timeout=timeout)
        _checked(result.result, i)
        recorded.append(result.finish_time - result.enqueue_time)

    for i in range(args.warmup):
        await round_trip(i, FIRST_RESULT_TIMEOUT)
    recorded.clear()
    samples = []
    for i in range(args.n):
        start = time.perf_counter()
        await round_trip(i, RESULT_TIMEOUT)
        samples.append((time.perf_counter() - start) * 1000)
    recorded.sort()
    return {"samples_ms": samples, "recorded_p50_ms": recorded[len(recorded) // 2]}


SYSTEMS = {"celeriac": celeriac, "compat": compat, "celery": celery, "streaq": streaq}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client")
    parser.add_argument("system", choices=sorted(SYSTEMS))
    actions = ["enqueue", "enqueue-many", "fill", "latency", "chord", "chain"]
    parser.add_argument("action", choices=actions)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--kind", choices=["noop", "sleep"], default="noop")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=0)
    args = parser.parse_args()
    result = SYSTEMS[args.system](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
