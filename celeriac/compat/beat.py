"""Celery's ``beat_schedule`` on the core scheduler.

Each entry (``task``, ``schedule``, ``args``, ``kwargs``, ``options``, ``relative``)
becomes a core periodic entry of the same name: a ``crontab`` a ``Cron`` read as Celery
reads it (every field must match, in the app's time zone), a ``schedule``, a number of
seconds or a ``timedelta`` an ``Every``, a ``solar`` a ``Solar``. The options are
planned as ``apply_async`` would plan them (routes, Celery's priority, time limits,
expires counted from each tick), so a tick is the message a Celery beat would have
sent. The core scheduler sends each tick exactly once, however many schedulers run, and
keeps its state in Redis.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from .._version import __version__
from ..core.cron import DEFAULT_MAX_INTERVAL, Cron, Every, Periodic, Schedule, Scheduler
from ..core.errors import ConfigurationError
from ..core.runtime import run
from . import _calling, signals
from .config import CeleriacConfigWarning
from .exceptions import ImproperlyConfigured
from .log import setup_worker_logging
from .schedules import crontab, schedule, solar

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["core_schedule", "install_beat_schedule", "periodic_entries", "run_beat"]

ENTRY_KEYS = frozenset({"task", "schedule", "args", "kwargs", "options", "relative"})
DOCS = "docs/periodic.md"


def core_schedule(app: Celery, name: str, value: Any) -> Schedule:
    """The core schedule of a ``beat_schedule`` entry's ``schedule``."""
    if isinstance(value, crontab):
        return Cron(value.expression, str(app.conf.timezone or "UTC"), days="both")
    if isinstance(value, schedule):
        return Every(value.seconds)
    if isinstance(value, solar):
        return value.core
    if isinstance(value, dt.timedelta):
        return Every(value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Every(float(value))
    raise ImproperlyConfigured(
        f"beat_schedule entry {name!r}: {value!r} is not a schedule (a crontab, a "
        f"schedule, a solar, a timedelta or a number of seconds; {DOCS})"
    )


def periodic_entries(app: Celery) -> list[Periodic]:
    """The core entries of ``app.conf.beat_schedule``; a malformed entry is an
    ``ImproperlyConfigured`` naming it."""
    entries = []
    for name, raw in dict(app.conf.beat_schedule or {}).items():
        if not isinstance(raw, Mapping) or "task" not in raw or "schedule" not in raw:
            raise ImproperlyConfigured(
                f"beat_schedule entry {name!r} must be a dict with 'task' and 'schedule' ({DOCS})"
            )
        unknown = sorted(set(raw) - ENTRY_KEYS)
        if unknown:
            warnings.warn(
                f"beat_schedule entry {name!r}: unknown key(s) {', '.join(unknown)} ignored",
                CeleriacConfigWarning,
                stacklevel=3,
            )
        entries.append(_entry(app, str(name), raw))
    return entries


def _entry(app: Celery, name: str, raw: Mapping[str, Any]) -> Periodic:
    task_name = str(raw["task"])
    args = tuple(raw.get("args") or ())
    kwargs = dict(raw.get("kwargs") or {})
    options = dict(raw.get("options") or {})
    task = app.tasks.get(task_name)
    if task is not None:
        options = {**task.exec_options(), **options}
    expires = options.pop("expires", None)  # per tick, from when it is sent
    planned = _calling.plan(app, task_name, args, kwargs, options, task).message
    send: dict[str, Any] = {
        "queue": planned.queue,
        "priority": planned.priority,
        "timeout": planned.timeout,
        "soft_timeout": planned.soft_timeout,
        "ignore_result": planned.ignore_result,
        "headers": dict(planned.headers),
        "max_retries": None,  # the task's retry() decides, as for every Celery call
    }
    if isinstance(expires, dt.timedelta):
        expires = expires.total_seconds()
    if expires is not None:
        send["expires"] = expires
    try:
        return Periodic(
            task_name,
            core_schedule(app, name, raw["schedule"]),
            args,
            kwargs,
            {k: v for k, v in send.items() if v is not None or k == "max_retries"},
            name=name,
        )
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"beat_schedule entry {name!r}: {exc}") from exc


def install_beat_schedule(app: Celery) -> list[Periodic]:
    """Declare ``beat_schedule``'s entries on the app's core, for the scheduler that runs
    in this process (``worker -B`` or ``beat``)."""
    entries = periodic_entries(app)
    for entry in entries:
        app.core.add_periodic(entry)
    return entries


logger = logging.getLogger("celeriac.beat")

BANNER = """\
celeriac beat v{version} is starting.
__    -    ... __   -        _
LocalTime -> {now}
Configuration ->
    . broker -> {broker}
    . scheduler -> celeriac's (state in Redis, each tick sent once)
    . timezone -> {timezone}
    . logfile -> {logfile}@%{loglevel}
    . maxinterval -> {max_interval:.2f} seconds ({max_interval}s)
"""


def run_beat(
    app: Celery,
    loglevel: str = "WARNING",
    logfile: str | None = None,
    max_interval: float | None = None,
) -> None:
    """Run the scheduler alone (``celeriac beat``) until SIGTERM or SIGINT. Any number
    may run, beside workers started with ``-B`` too: each tick is sent once."""
    app.import_default_modules()
    entries = install_beat_schedule(app)
    interval = float(max_interval or app.conf.beat_max_loop_interval or DEFAULT_MAX_INTERVAL)
    setup_worker_logging(
        loglevel,
        logfile,
        fmt=app.conf.worker_log_format,
        colorize=bool(app.conf.worker_log_color),
        hijack_root=bool(app.conf.worker_hijack_root_logger),
    )
    print(
        BANNER.format(
            version=__version__,
            now=dt.datetime.now().replace(microsecond=0),
            broker=app.core.broker,
            timezone=app.conf.timezone or "UTC",
            logfile=logfile or "[stderr]",
            loglevel=loglevel.upper(),
            max_interval=interval,
        ),
        flush=True,
    )
    scheduler = Scheduler(app.core, max_interval=interval)
    signals.beat_init.send(sender=scheduler)
    logger.info("beat: %d periodic task(s) in beat_schedule", len(entries))
    run(_serve, app, scheduler)


async def _serve(app: Celery, scheduler: Scheduler) -> None:
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(scheduler.run)
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
                async for signum in received:
                    logger.info("beat: Shutting down (%s).", signal.Signals(signum).name)
                    tg.cancel_scope.cancel()
                    break
    finally:
        await app.core.aclose()
