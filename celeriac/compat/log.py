"""Logging as in a Celery worker: task loggers whose records carry the task's id and
name (``get_task_logger``), Celery's formats, and the worker's logging set-up with the
``setup_logging`` / ``after_setup_logger`` / ``after_setup_task_logger`` signals."""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..core.context import _current
from . import signals

__all__ = [
    "DEFAULT_LOG_FORMAT",
    "DEFAULT_TASK_LOG_FORMAT",
    "TaskFormatter",
    "base_logger",
    "get_logger",
    "get_task_logger",
    "setup_worker_logging",
    "task_logger",
]

# Celery's worker_log_format and worker_task_log_format defaults
DEFAULT_LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"
DEFAULT_TASK_LOG_FORMAT = (
    "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s"
)
UNKNOWN = "???"  # what Celery prints for a record logged outside any task

# the parents of the loggers handed out here; named after our package, as the worker's
# own loggers are (celeriac.worker), so one logging config covers all of celeriac
base_logger = logging.getLogger("celeriac")
task_logger = logging.getLogger("celeriac.task")
RESERVED = frozenset({"celeriac", "celeriac.task", "celeriac.worker"})


def get_logger(name: str) -> logging.Logger:
    """A logger by name; one that would hang from the root hangs from ``celeriac``."""
    found = logging.getLogger(name)
    if logging.root in (found, found.parent) and found is not base_logger:
        found.parent = base_logger
    return found


def get_task_logger(name: str) -> logging.Logger:
    """A logger for a tasks module: its records carry ``task_id`` and ``task_name``
    under the worker's task format."""
    if name in RESERVED:
        raise RuntimeError(f"Logger name {name!r} is reserved!")
    found = get_logger(name)
    found.parent = task_logger
    return found


class TaskFormatter(logging.Formatter):
    """A formatter that fills ``%(task_id)s`` and ``%(task_name)s`` from the running
    task (``???`` outside of one)."""

    def format(self, record: logging.LogRecord) -> str:
        ctx = _current.get(None)
        if ctx is not None:
            record.__dict__.setdefault("task_id", ctx.message.id)
            record.__dict__.setdefault("task_name", ctx.message.name)
        else:
            record.__dict__.setdefault("task_id", UNKNOWN)
            record.__dict__.setdefault("task_name", UNKNOWN)
        return super().format(record)


_OURS = "_celeriac_worker_handler"  # marks the handlers this module installed


def _handler(logfile: str | None, formatter: logging.Formatter) -> logging.Handler:
    handler: logging.Handler = (
        logging.FileHandler(logfile) if logfile else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(formatter)
    setattr(handler, _OURS, True)
    return handler


def _replace_ours(logger: logging.Logger, handler: logging.Handler) -> None:
    for old in [h for h in logger.handlers if getattr(h, _OURS, False)]:
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)


def setup_worker_logging(
    loglevel: str | int,
    logfile: str | None = None,
    fmt: str = DEFAULT_LOG_FORMAT,
    task_fmt: str = DEFAULT_TASK_LOG_FORMAT,
    colorize: bool = False,
    hostname: str | None = None,
    hijack_root: bool = True,
) -> None:
    """Set up logging as a Celery worker does; a project that connects to
    ``setup_logging`` configures it itself (nothing is done here then)."""
    level = logging.getLevelName(loglevel.upper()) if isinstance(loglevel, str) else loglevel
    common: dict[str, Any] = {"loglevel": level, "logfile": logfile, "colorize": colorize}
    if signals.setup_logging.send(sender=None, format=fmt, **common):
        return
    root = logging.getLogger()
    if hijack_root:
        for old in [h for h in root.handlers if not getattr(h, _OURS, False)]:
            root.removeHandler(old)
    _replace_ours(root, _handler(logfile, logging.Formatter(fmt)))
    root.setLevel(level)
    _replace_ours(task_logger, _handler(logfile, TaskFormatter(task_fmt)))
    task_logger.setLevel(level)
    task_logger.propagate = False
    signals.after_setup_logger.send(sender=None, logger=root, format=fmt, **common)
    signals.after_setup_task_logger.send(sender=None, logger=task_logger, format=task_fmt, **common)
