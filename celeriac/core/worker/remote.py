"""Remote control, the worker's side: what a worker answers to the requests that reach
it on the control channel (see ``control.py``; sent with ``App.control``)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..broker import Delivery
from ..errors import DecodeError
from ..keys import check_queue_name
from ..logs import worker_logger as logger
from ..message import TaskMessage

if TYPE_CHECKING:
    from ._worker import Worker

__all__ = ["Remote", "described"]


class Remote:
    """The answers of ``worker``: ping, stats, active, reserved, registered,
    active_queues, revoked, query_task, shutdown, rate_limit, time_limit,
    add_consumer, cancel_consumer, pool_grow, pool_shrink and autoscale."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def answer(self, request: str, arguments: Mapping[str, Any]) -> Any:
        """The answer to a remote control request (see ``control.py``)."""
        handler = self._handlers().get(request)
        if handler is None:
            raise LookupError(f"unknown control request {request!r}")
        answer = handler(arguments)
        return await answer if inspect.isawaitable(answer) else answer

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
        return {
            "ping": lambda _: "pong",
            "stats": lambda _: self._stats(),
            "active": lambda _: self._running_tasks(),
            "reserved": lambda _: self._held_tasks(),
            "registered": lambda _: sorted(self.worker.app.tasks),
            "active_queues": lambda _: list(self.worker.queues),
            "revoked": lambda _: sorted(
                self.worker._control.revoked if self.worker._control else ()
            ),
            "query_task": lambda args: self._query(args.get("ids") or ()),
            "shutdown": lambda _: self._remote_stop(),
            "rate_limit": lambda args: self._set_rate_limit(args["task"], args.get("per_second")),
            "time_limit": lambda args: self._set_time_limit(
                args["task"], args.get("soft"), args.get("hard")
            ),
            "add_consumer": lambda args: self._add_queue(str(args["queue"])),
            "cancel_consumer": lambda args: self._cancel_queue(str(args["queue"])),
            "pool_grow": lambda args: self._grow(_count(args.get("n", 1))),
            "pool_shrink": lambda args: self._grow(-_count(args.get("n", 1))),
            "autoscale": lambda args: self._autoscale(args.get("max"), args.get("min")),
        }

    async def _grow(self, change: int) -> str:
        worker = self.worker
        way = "grow" if change > 0 else "shrink"
        if worker.autoscaler is not None:
            raise ValueError(
                f"pool_{way} is not supported with autoscale. Adjust autoscale range instead."
            )
        size = worker.sync_concurrency + change
        if size < 1:
            raise ValueError(
                f"the pool cannot shrink by {-change}: it has {worker.sync_concurrency} "
                f"{worker.seat_kind(worker.sync_concurrency)} and keeps one at least"
            )
        await worker.resize(size)
        logger.info(
            "%s: pool %s to %d %s (remote control).",
            worker.name,
            "grown" if change > 0 else "shrunk",
            size,
            worker.seat_kind(size),
        )
        return f"pool will {way}"

    async def _autoscale(self, maximum: Any, minimum: Any) -> str:
        autoscaler = self.worker.autoscaler
        if autoscaler is None:
            raise ValueError("Autoscale not enabled")
        bounds = [None if v is None else _count(v, allow_zero=True) for v in (maximum, minimum)]
        new_max, new_min = await autoscaler.update(*bounds)
        return f"autoscale now max={new_max} min={new_min}"

    def _set_rate_limit(self, name: str, per_second: float | None) -> str:
        task = self.worker.app.tasks.get(name)
        if task is None:
            raise LookupError(f"unknown task {name!r}")
        task.rate_limit = float(per_second) if per_second else None
        logger.info(
            "%s: rate limit of %s set to %s/s by remote control.",
            self.worker.name,
            name,
            per_second,
        )
        return "new rate limit set successfully"

    def _set_time_limit(self, name: str, soft: float | None, hard: float | None) -> str:
        if name not in self.worker.app.tasks:
            raise LookupError(f"unknown task {name!r}")
        if self.worker._runner is not None:
            self.worker._runner.limits[name] = (soft, hard)
        return "time limits set successfully"

    def _consumers(self) -> list[list[str]]:
        """Every list of queues this worker reads or announces."""
        lists = [self.worker.queues]
        if self.worker._fetcher is not None:
            lists.append(self.worker._fetcher.queues)
        if self.worker._heartbeat is not None:
            lists.append(self.worker._heartbeat.queues)
        return lists

    def _add_queue(self, queue: str) -> str:
        queue = check_queue_name(queue)
        if queue in self.worker.queues:
            return f"already consuming from {queue!r}"
        for queues in self._consumers():
            queues.append(queue)
        logger.info("%s: consuming from %s too (remote control).", self.worker.name, queue)
        return f"add consumer {queue}"

    def _cancel_queue(self, queue: str) -> str:
        if queue not in self.worker.queues:
            raise LookupError(f"not consuming from {queue!r}")
        if len(self.worker.queues) == 1:
            raise ValueError(f"{queue!r} is the last queue this worker consumes from")
        for queues in self._consumers():
            if queue in queues:
                queues.remove(queue)
        logger.info("%s: no longer consuming from %s (remote control).", self.worker.name, queue)
        return f"no longer consuming from {queue}"

    def _stats(self) -> dict[str, Any]:
        info = self.worker.info
        return {
            "name": info.name,
            "hostname": info.hostname,
            "pid": info.pid,
            "uptime": round(time.time() - info.started, 3),
            "queues": list(info.queues),
            "concurrency": info.concurrency,
            "sync_concurrency": info.sync_concurrency,
            "sync_pool": info.sync_pool,
            "prefetch": self.worker.prefetch,
            "active": info.active,
            "held": info.held,
            "counters": dict(info.counters),
            "autoscaler": self.worker.autoscaler.info() if self.worker.autoscaler else None,
        }

    def _running_tasks(self) -> list[dict[str, Any]]:
        runner = self.worker._runner
        if runner is None:
            return []
        return [
            described(job.message, job.delivery, started)
            for job, started in list(runner.active.values())
        ]

    def _held_tasks(self) -> list[dict[str, Any]]:
        """Taken from the queues, not started yet (prefetched)."""
        runner = self.worker._runner
        running = set(runner.active) if runner is not None else set()
        found = []
        for delivery in self.worker.holdings.all():
            try:
                message = TaskMessage.decode(delivery.data or b"", self.worker.app.codec)
            except DecodeError:
                continue
            if message.id not in running:
                found.append(described(message, delivery, None))
        return found

    def _query(self, ids: Sequence[str]) -> dict[str, Any]:
        wanted = set(ids)
        found: dict[str, Any] = {}
        for place, tasks in (("active", self._running_tasks()), ("reserved", self._held_tasks())):
            for task in tasks:
                if task["id"] in wanted:
                    found[task["id"]] = [place, task]
        return found

    def _remote_stop(self) -> str:
        logger.warning("%s: shutdown asked by remote control.", self.worker.name)
        self.worker.stop()
        return "shutting down"


def _count(value: Any, *, allow_zero: bool = False) -> int:
    """A whole number from a request's arguments (the command line sends strings)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < (0 if allow_zero else 1):
        raise ValueError(f"expected a number of at least {0 if allow_zero else 1}, got {number}")
    return number


def described(
    message: TaskMessage, delivery: Delivery | None = None, started: float | None = None
) -> dict[str, Any]:
    """A task as remote control shows it (``delivery``: as a worker holds it)."""
    return {
        "id": message.id,
        "name": message.name,
        "args": list(message.args),
        "kwargs": dict(message.kwargs),
        "queue": message.queue,
        "priority": message.priority,
        "retries": message.retries,
        "headers": dict(message.headers),
        "time_start": started,
        "redelivered": delivery is not None and delivery.deliveries > 1,
    }
