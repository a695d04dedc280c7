"""A Celery-style worker: the core :class:`~celeriac.core.Worker` set up from the app's
settings and the worker's options (Celery's names), with Celery's worker signals and
logging.

Pools: ``prefork``/``processes`` run plain-function tasks in child processes,
``threads`` in threads, ``solo`` in one thread; ``async def`` tasks always run on the
worker's event loop. ``concurrency`` sizes the plain-function pool. ``async`` (ours, for
projects whose work is ``async def``: where a Celery project used gevent or eventlet)
makes ``concurrency`` the number of ``async def`` tasks at once, and runs plain
functions in a thread per CPU.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import socket
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from .._version import __version__
from ..core import Worker
from ..core.errors import ConfigurationError, DependencyFailed
from ..core.message import TaskMessage
from ..core.result import ExceptionInfo as CoreExceptionInfo
from ..core.runtime import run
from ..core.worker import Observer
from ..core.worker.autoscale import DEFAULT_KEEPALIVE, check_bounds
from . import signals, states
from ._config_urls import mask_url
from ._trace import Trace
from .beat import install_beat_schedule
from .exceptions import ChordError, NotRegistered, TaskRevokedError
from .log import setup_worker_logging
from .request import Request, from_message

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["POOLS", "SignalObserver", "WorkerOptions", "make_worker", "nodename", "run_worker"]

POOLS = {
    "prefork": "processes",
    "processes": "processes",
    "threads": "threads",
    "solo": "threads",
    "async": "threads",
}
ASYNC_CONCURRENCY = 100  # async def tasks at once, beside the plain-function pool
UNSUPPORTED_POOLS = ("gevent", "eventlet")

logger = logging.getLogger("celeriac.worker")


def nodename(name: str | None) -> str:
    """A node name with Celery's ``%h`` (host), ``%n`` (name), ``%d`` (domain)."""
    host = socket.gethostname()
    short, _, domain = host.partition(".")
    name = name or "celery@%h"
    return name.replace("%h", host).replace("%n", short).replace("%d", domain).replace("%%", "%")


@dataclass
class WorkerOptions:
    """A worker's options, as ``celery worker`` takes them (None: the setting)."""

    queues: Sequence[str] | None = None
    exclude_queues: Sequence[str] = ()
    concurrency: int | None = None
    pool: str | None = None
    hostname: str | None = None
    loglevel: str | int = "WARNING"
    logfile: str | None = None
    events: bool | None = None
    beat: bool = False
    prefetch_multiplier: int | None = None
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    strict_order: bool = False
    autoscale: tuple[int, int] | None = None  # (max, min), as --autoscale=max,min
    celery_queues: Sequence[str] | None = None  # Celery's queues to read too (None: setting)
    extra: dict[str, Any] = field(default_factory=dict)


def _pool(app: Celery, options: WorkerOptions) -> tuple[str, int]:
    name = options.pool or app.conf.worker_pool or "prefork"
    if name in UNSUPPORTED_POOLS:
        raise ConfigurationError(
            f"the {name} pool is not supported: write the I/O-bound tasks as 'async def' "
            "(they run on the worker's event loop) and use -P async (-c: how many at "
            "once), or -P threads or prefork for plain functions; see docs/differences.md"
        )
    if name not in POOLS:
        raise ConfigurationError(f"unknown pool {name!r}: choose one of {', '.join(POOLS)}")
    conf = app.conf
    concurrency = options.concurrency or conf.worker_concurrency
    if name == "async":  # -c counts async def tasks: plain functions get a thread per CPU
        concurrency = None
    concurrency = concurrency or conf.celeriac_sync_concurrency or os.cpu_count() or 1
    return name, 1 if name == "solo" else int(concurrency)


def _async_concurrency(app: Celery, options: WorkerOptions, pool: str) -> int:
    """How many ``async def`` tasks run at once: -c under the async pool, else at least
    ``ASYNC_CONCURRENCY`` (beside the plain-function pool)."""
    if pool == "async":
        return int(options.concurrency or app.conf.worker_concurrency or ASYNC_CONCURRENCY)
    return max(ASYNC_CONCURRENCY, _pool(app, options)[1])


def parse_autoscale(value: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"10,3"`` (or ``"10"``: min 0; or a pair) -> ``(10, 3)``, as Celery reads
    ``--autoscale``."""
    if value is None or value == "":
        return None
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        numbers = [int(str(part).strip() or 0) for part in parts]
    except ValueError:
        numbers = []
    if not 1 <= len(numbers) <= 2:
        raise ConfigurationError(f"expected MAX[,MIN] (e.g. 10,3), got {value!r}")
    maximum, minimum = numbers[0], numbers[1] if len(numbers) == 2 else 0
    return check_bounds(maximum, minimum)


def _keepalive() -> float:
    """Seconds without growth or new tasks before the autoscaler shrinks the pool: the
    ``AUTOSCALE_KEEPALIVE`` environment variable, as Celery reads it (30 by default)."""
    raw = os.environ.get("AUTOSCALE_KEEPALIVE", "")
    try:
        return float(raw) if raw else DEFAULT_KEEPALIVE
    except ValueError:
        raise ConfigurationError(
            f"AUTOSCALE_KEEPALIVE must be a number of seconds, got {raw!r}"
        ) from None


def _queues(app: Celery, options: WorkerOptions) -> list[str]:
    queues = list(options.queues or [app.conf.task_default_queue])
    queues += [q for q in _celery_queues(app, options) if q not in queues]
    return [q for q in queues if q not in set(options.exclude_queues)]


def _celery_queues(app: Celery, options: WorkerOptions) -> list[str]:
    """Celery's queues this worker reads too (celery_wire.py): each message lands in the
    celeriac queue of the same name, which the worker consumes."""
    found = options.celery_queues
    if found is None:
        found = app.conf.get("celeriac_celery_queues") or ()
    if isinstance(found, str):
        found = found.split(",")
    return [q.strip() for q in found if q.strip()]


def make_worker(app: Celery, options: WorkerOptions) -> Worker:
    """The core worker for these options (the app's task modules imported first)."""
    app.import_default_modules()
    conf = app.conf
    if options.time_limit is not None:
        conf.task_time_limit = options.time_limit
    if options.soft_time_limit is not None:
        conf.task_soft_time_limit = options.soft_time_limit
    pool, concurrency = _pool(app, options)
    multiplier = options.prefetch_multiplier
    if multiplier is None:
        multiplier = conf.worker_prefetch_multiplier
    name = nodename(options.hostname)
    if options.beat:
        install_beat_schedule(app)
    events = options.events if options.events is not None else conf.worker_send_task_events
    return Worker(
        app.core,
        queues=_queues(app, options),
        concurrency=_async_concurrency(app, options, pool),
        sync_concurrency=concurrency,
        sync_pool=POOLS[pool],
        prefetch_multiplier=multiplier or None,
        autoscale=options.autoscale,
        autoscale_keepalive=_keepalive(),
        max_tasks_per_child=options.max_tasks_per_child or conf.worker_max_tasks_per_child,
        max_memory_per_child=options.max_memory_per_child or conf.worker_max_memory_per_child,
        name=name,
        strict_order=options.strict_order,
        heartbeat=float(conf.celeriac_worker_heartbeat or 5.0),
        events=bool(events),
        beat=options.beat,
        lifespan=_signalling(name, app, _celery_queues(app, options)),
        child_init=_child_init,
        observer=SignalObserver(app, name),
    )


class SignalObserver(Observer):
    """Celery's worker-side task signals: task_received, task_unknown, task_revoked."""

    def __init__(self, app: Celery, hostname: str) -> None:
        self.app = app
        self.hostname = hostname

    def _request(self, message: TaskMessage) -> Any:
        return from_message(message, message.args, message.kwargs, self.hostname)

    def received(self, message: TaskMessage) -> None:
        if signals.task_received.has_listeners():
            task = self.app.tasks.get(message.name)
            request = Request(message, task, self.hostname)
            signals.task_received.send(sender=None, request=request)

    def unknown(self, message: TaskMessage, error: Exception) -> None:
        signals.task_unknown.send(
            sender=None, name=message.name, id=message.id, message=None,
            exc=NotRegistered(message.name),
        )  # fmt: skip

    def failed_outside(self, message: TaskMessage, error: BaseException) -> None:
        task = self.app.tasks.get(message.name)
        if task is not None:
            request = self._request(message)
            Trace(task, request, tuple(message.args), dict(message.kwargs)).failed_outside(error)

    def dependency_failed(
        self, message: TaskMessage, error: DependencyFailed
    ) -> CoreExceptionInfo | None:
        """What Celery records for a task that will not run because one before it
        failed: in a chain, that task's error; for a chord's body (it receives all of
        its parents' results), a ``ChordError`` naming it, after the body's errbacks."""
        cause = _parent_error(error)
        if cause is None:
            return None
        if message.pass_results != "all":
            return cause
        chord_error = ChordError(f"Dependency {error.parent} raised {_as_call(cause)}")
        task = self.app.tasks.get(message.name)
        if task is not None:
            request = self._request(message)
            Trace(task, request, tuple(message.args), dict(message.kwargs)).not_run(chord_error)
        return CoreExceptionInfo.from_exception(chord_error, with_traceback=False)

    def stopping(self, signal_name: str, *, cold: bool) -> None:
        signals.worker_shutting_down.send(
            sender=self.hostname, sig=signal_name, how="Cold" if cold else "Warm", exitcode=0
        )

    def revoked(self, message: TaskMessage, *, terminated: bool, expired: bool) -> None:
        request = self._request(message)
        signals.task_revoked.send(
            sender=self.app.tasks.get(message.name), request=request,
            terminated=terminated, signum=None, expired=expired,
        )  # fmt: skip
        if request.get("bridge") is not None:  # a Celery caller waits for it
            from .celery_wire import answer

            why = "expired" if expired else "terminated" if terminated else "revoked"
            answer(self.app, request, states.REVOKED, None, TaskRevokedError(why))


def _parent_error(error: DependencyFailed) -> CoreExceptionInfo | None:
    if error.parent_state == states.REVOKED:
        return CoreExceptionInfo.from_exception(TaskRevokedError("revoked"), with_traceback=False)
    info = error.parent_error
    return info if isinstance(info, CoreExceptionInfo) else None


def _as_call(info: CoreExceptionInfo) -> str:
    """An error as ``repr`` shows it: ``ZeroDivisionError('boom')``."""
    return f"{info.type_name}({', '.join(repr(arg) for arg in info.args)})"


def _child_init() -> None:
    signals.worker_process_init.send(sender=None)


def _signalling(name: str, app: Celery, celery_queues: Sequence[str] = ()) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(worker: Worker) -> AsyncIterator[None]:
        bridge = None
        if celery_queues:
            from .celery_wire import CeleryConsumer

            bridge = CeleryConsumer(app, celery_queues, hostname=name)
            bridge.start()
        signals.worker_ready.send(sender=worker)
        logger.info("%s ready.", name)
        try:
            yield None
        finally:
            if bridge is not None:
                await anyio.to_thread.run_sync(bridge.stop)
            signals.worker_shutdown.send(sender=worker)

    return lifespan


def run_worker(app: Celery, options: WorkerOptions) -> None:
    """Run a worker in this process until SIGTERM (warm) or SIGQUIT (cold)."""
    name = nodename(options.hostname)
    _pool(app, options)  # a wrong pool is an error before anything is set up
    # Celery's order: task modules, celeryd_init, worker_init, logging, celeryd_after_setup
    app.import_default_modules()
    signals.celeryd_init.send(sender=name, instance=None, conf=app.conf, options=options)
    worker = make_worker(app, options)
    signals.worker_init.send(sender=worker)
    setup_worker_logging(
        options.loglevel,
        options.logfile,
        fmt=app.conf.worker_log_format,
        task_fmt=app.conf.worker_task_log_format,
        colorize=bool(app.conf.worker_log_color),
        hostname=name,
        hijack_root=bool(app.conf.worker_hijack_root_logger),
    )
    signals.celeryd_after_setup.send(sender=name, instance=worker, conf=app.conf)
    print(banner(app, options, worker), flush=True)
    run(_serve, worker)


def banner(app: Celery, options: WorkerOptions, worker: Worker) -> str:
    """The start-up banner, laid out as Celery's (configuration, queues, and the tasks
    at log level INFO or DEBUG) so that operators find what they look for."""
    pool, size = _pool(app, options)
    shown = f"{size} ({pool}), async def tasks: up to {worker.concurrency}"
    if pool == "async":
        shown = f"{worker.concurrency} (async), plain functions: {size} threads"
    if options.autoscale:
        bounds = f"{{min={options.autoscale[1]}, max={options.autoscale[0]}}}"
        shown = f"{bounds} ({pool}), async def tasks: up to {worker.concurrency}"
    results = app.conf.result_backend
    level = logging.getLevelName(options.loglevel) if isinstance(options.loglevel, str) else None
    events = "ON" if worker.events else "OFF (enable -E to monitor tasks in this worker)"
    started = dt.datetime.now().replace(microsecond=0)
    lines = [
        f" -------------- {worker.name} v{__version__} (celeriac)",
        "--- ***** ----- ",
        f"-- ******* ---- {platform.platform()} {started}",
        "- *** --- * --- ",
        "- ** ---------- [config]",
        f"- ** ---------- .> app:         {app.main or '__main__'}:{id(app):#x}",
        f"- ** ---------- .> transport:   {mask_url(str(app.conf.broker_url))}",
        f"- ** ---------- .> results:     {mask_url(str(results)) if results else 'disabled://'}",
        f"- *** --- * --- .> concurrency: {shown}",
        f"-- ******* ---- .> task events: {events}",
        "--- ***** ----- ",
        " -------------- [queues]",
        *(f"                .> {queue}" for queue in worker.queues),
        "",
    ]
    if isinstance(level, int) and level <= logging.INFO:
        names = sorted(name for name in app.tasks if not name.startswith("celery."))
        lines += ["[tasks]", *(f"  . {name}" for name in names), ""]
    return "\n".join(lines)


async def _serve(worker: Worker) -> None:
    try:
        await worker.run(handle_signals=True)
    finally:
        await worker.app.aclose()
