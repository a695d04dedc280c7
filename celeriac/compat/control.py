"""``app.control``: revoke, purge, and remote control of the workers (``inspect()``,
``ping``, ``shutdown``, ``broadcast``), with Celery's reply shapes, over the core's
control channel (requests published, replies collected from Redis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.worker.remote import described
from ._eager import run_coroutine

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["Control", "Inspect", "revoke_here"]

T = TypeVar("T")


def _run(app: Celery, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(core app)`` from sync code, closing the core's async side after."""
    core = app.core

    async def go() -> T:
        try:
            return await work(core)
        finally:
            await core.aclose()

    result: T = run_coroutine(go())
    return result


def revoke_here(app: Celery, ids: Sequence[str]) -> None:
    """Revoke tasks in celeriac's queues and workers (not Celery's)."""

    async def revoke(core: Any) -> None:
        await core.revoke(*ids)

    _run(app, revoke)


def _destination(destination: str | Sequence[str] | None) -> list[str] | None:
    if destination is None:
        return None
    return [destination] if isinstance(destination, str) else list(destination)


class Control:
    """``app.control``."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def revoke(
        self,
        task_id: str | Sequence[str],
        destination: Any = None,
        terminate: bool = False,
        signal: Any = None,
        **kwargs: Any,
    ) -> None:
        """Revoke tasks: queued or scheduled ones never run; running ``async def`` ones
        are cancelled and ones in the process pool stopped (``terminate`` is implied)."""
        ids = [task_id] if isinstance(task_id, str) else list(task_id)
        revoke_here(self.app, ids)
        if self.app.conf.get("celeriac_celery_tasks"):  # Celery workers may hold some
            from .celery_wire import revoke_in_celery

            revoke_in_celery(self.app, ids, terminate=terminate, signal=signal)

    def purge(self, connection: Any = None, queues: Iterable[str] | None = None) -> int:
        """Remove the tasks waiting in the app's known queues (or ``queues``): those not
        yet taken by a worker, and delayed ones (countdown, eta). Returns how many."""
        names = sorted(set(queues if queues is not None else self.app.known_queues()))

        async def purge(core: Any) -> int:
            return sum([await core.broker.purge(name) for name in names])

        return _run(self.app, purge)

    discard_all = purge

    # -- remote control -------------------------------------------------------------------

    def inspect(
        self, destination: str | Sequence[str] | None = None, timeout: float = 1.0, **kwargs: Any
    ) -> Inspect:
        return Inspect(self.app, _destination(destination), timeout)

    def broadcast(
        self,
        command: str,
        arguments: dict[str, Any] | None = None,
        destination: str | Sequence[str] | None = None,
        reply: bool = False,
        timeout: float = 1.0,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Send ``command`` to the workers; with ``reply``, their answers as Celery gives
        them: ``[{hostname: {"ok": ...}}]`` (or ``{"error": ...}``)."""
        answers = self.request(command, arguments, _destination(destination), timeout, reply)
        if not reply:
            return None
        return [{a["worker"]: _ok_or_error(a)} for a in answers]

    def request(
        self,
        command: str,
        arguments: dict[str, Any] | None,
        destination: list[str] | None,
        timeout: float,
        reply: bool = True,
    ) -> list[dict[str, Any]]:
        """The core's answers: ``{"worker": name, "reply": ...}`` or ``"error"``."""

        async def ask(core: Any) -> list[dict[str, Any]]:
            answers: list[dict[str, Any]] = await core.control(
                command, arguments, destination=destination, timeout=timeout, reply=reply
            )
            return answers

        return _run(self.app, ask)

    def ping(
        self, destination: str | Sequence[str] | None = None, timeout: float = 1.0, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """``[{hostname: {"ok": "pong"}}]``, one per worker that answered in time."""
        return self.broadcast("ping", destination=destination, reply=True, timeout=timeout) or []

    def shutdown(
        self, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        """Stop the workers (warm: running tasks finish)."""
        return self.broadcast("shutdown", destination=destination, **kwargs)

    def rate_limit(
        self,
        task_name: str,
        rate_limit: Any,
        destination: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Set a task's rate limit in the workers (``"10/m"``, a number per second, or
        None/0 for none), until they restart."""
        from ._app_core import per_second

        arguments = {"task": task_name, "per_second": per_second(rate_limit)}
        return self.broadcast("rate_limit", arguments, destination, **kwargs)

    def time_limit(
        self,
        task_name: str,
        soft: float | None = None,
        hard: float | None = None,
        destination: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """Set a task's time limits in the workers, for its next runs."""
        arguments = {"task": task_name, "soft": soft, "hard": hard}
        return self.broadcast("time_limit", arguments, destination, **kwargs)

    def add_consumer(
        self, queue: str, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        """Make the workers consume from ``queue`` too (exchange options are ignored)."""
        reply = bool(kwargs.pop("reply", False))
        timeout = float(kwargs.pop("timeout", 1.0))
        return self.broadcast("add_consumer", {"queue": queue}, destination, reply, timeout)

    def cancel_consumer(
        self, queue: str, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        """Make the workers stop consuming from ``queue``."""
        return self.broadcast("cancel_consumer", {"queue": queue}, destination, **kwargs)

    def pool_grow(
        self, n: int = 1, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        """Grow the workers' pool for plain functions by ``n`` processes or threads."""
        return self.broadcast("pool_grow", {"n": n}, destination, **kwargs)

    def pool_shrink(
        self, n: int = 1, destination: str | Sequence[str] | None = None, **kwargs: Any
    ) -> list[dict[str, Any]] | None:
        """Shrink the workers' pool by ``n`` (running tasks finish first)."""
        return self.broadcast("pool_shrink", {"n": n}, destination, **kwargs)

    def autoscale(
        self,
        max: int | None,  # Celery's parameter names
        min: int | None,
        destination: str | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]] | None:
        """New autoscale bounds for the workers started with ``--autoscale``."""
        return self.broadcast("autoscale", {"max": max, "min": min}, destination, **kwargs)


def _ok_or_error(answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        return {"error": answer["error"]}
    return {"ok": answer.get("reply")}


class Inspect:
    """``app.control.inspect()``: each method returns ``{hostname: reply}`` for the
    workers that answered within ``timeout``, or None when none did (as Celery)."""

    def __init__(self, app: Celery, destination: list[str] | None, timeout: float) -> None:
        self.app = app
        self.destination = destination
        self.timeout = timeout

    def _ask(
        self,
        command: str,
        shape: Callable[[Any, str], Any],
        arguments: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        answers = self.app.control.request(command, arguments, self.destination, self.timeout)
        if not answers:
            return None
        return {
            a["worker"]: {"error": a["error"]} if "error" in a else shape(a["reply"], a["worker"])
            for a in answers
        }

    def ping(self) -> dict[str, Any] | None:
        return self._ask("ping", lambda reply, _: {"ok": reply})

    def active(self, safe: Any = None) -> dict[str, Any] | None:
        return self._ask("active", _requests)

    def reserved(self, safe: Any = None) -> dict[str, Any] | None:
        return self._ask("reserved", _requests)

    def scheduled(self, safe: Any = None) -> dict[str, Any] | None:
        """Tasks waiting for their eta or countdown, in Celery's shape. They wait in Redis,
        not in a worker: each queue's are shown under the first worker (by name) that
        consumes it, so that none is listed twice (up to 1000 per queue)."""
        queues = self._ask("active_queues", lambda names, _: list(names))
        if queues is None:
            return None
        owners: dict[str, str] = {}
        for worker in sorted(queues):
            if isinstance(queues[worker], list):
                for queue in queues[worker]:
                    owners.setdefault(queue, worker)

        async def listing(core: Any) -> dict[str, list[Any]]:
            return {q: await core.list_tasks("scheduled", q, limit=1000) for q in owners}

        found: dict[str, Any] = {w: r if isinstance(r, dict) else [] for w, r in queues.items()}
        for queue, infos in _run(self.app, listing).items():
            owner = owners[queue]
            found[owner] += [_scheduled(info, owner) for info in infos if info.message]
        return found

    def registered(self, *taskinfoitems: Any) -> dict[str, Any] | None:
        return self._ask(
            "registered", lambda names, _: [n for n in names if not n.startswith("celery.")]
        )

    registered_tasks = registered

    def stats(self) -> dict[str, Any] | None:
        return self._ask("stats", _stats)

    def active_queues(self) -> dict[str, Any] | None:
        return self._ask("active_queues", lambda names, _: [_queue(n) for n in names])

    def revoked(self) -> dict[str, Any] | None:
        return self._ask("revoked", lambda ids, _: list(ids))

    def query_task(self, *ids: Any) -> dict[str, Any] | None:
        wanted = [i for item in ids for i in ([item] if isinstance(item, str) else item)]

        def shape(found: dict[str, Any], worker: str) -> dict[str, Any]:
            return {tid: [place, _request(task, worker)] for tid, (place, task) in found.items()}

        return self._ask("query_task", shape, {"ids": wanted})


def _request(task: dict[str, Any], worker: str) -> dict[str, Any]:
    """A task as Celery's inspect shows one."""
    return {
        "id": task["id"],
        "name": task["name"],
        "args": task["args"],
        "kwargs": task["kwargs"],
        "type": task["name"],
        "hostname": worker,
        "time_start": task.get("time_start"),
        "acknowledged": False,
        "delivery_info": {
            "exchange": "",
            "routing_key": task["queue"],
            "priority": task.get("priority"),
            "redelivered": task.get("redelivered", False),
        },
    }


def _scheduled(info: Any, worker: str) -> dict[str, Any]:
    """A delayed task as Celery's ``inspect scheduled`` shows one."""
    message = info.message
    task = described(message)
    eta = dt.datetime.fromtimestamp(info.due, dt.timezone.utc).isoformat() if info.due else None
    return {"eta": eta, "priority": message.priority, "request": _request(task, worker)}


def _requests(tasks: list[dict[str, Any]], worker: str) -> list[dict[str, Any]]:
    return [_request(task, worker) for task in tasks]


def _queue(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "exchange": {"name": name, "type": "direct"},
        "routing_key": name,
        "durable": True,
        "exclusive": False,
        "auto_delete": False,
        "no_ack": False,
    }


def _stats(found: dict[str, Any], worker: str) -> dict[str, Any]:
    stats = {
        "pid": found["pid"],
        "uptime": found["uptime"],
        "pool": {
            "implementation": found["sync_pool"],
            "max-concurrency": found["sync_concurrency"],
            "async-concurrency": found["concurrency"],
        },
        "prefetch_count": found["prefetch"],
        "counters": found["counters"],
        "active": found["active"],
        "held": found["held"],
        "queues": found["queues"],
    }
    if found.get("autoscaler"):  # as Celery, only on a worker started with --autoscale
        stats["autoscaler"] = found["autoscaler"]
    return stats
