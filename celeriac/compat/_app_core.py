"""The core app a Celery app runs on: built from its settings on first use
(:func:`make_core`), each of its tasks registered there with Celery's per-task
settings applied (:func:`register_core`: annotations, rate limits, time limits,
``track_started``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core import App as CoreApp
from ..core.options import SendOptions
from ..core.retry import RetryPolicy
from ..core.task import Task as CoreTask
from . import _calling
from .config import CeleriacConfigWarning, core_broker_url, mask_url, result_backend_kind
from .exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .app import Celery
    from .task import Task as TaskBase

__all__ = ["make_core", "per_second", "register_core", "signing_keys"]


def make_core(app: Celery) -> CoreApp:
    """The core app for ``app``'s settings (warning about those it cannot honour)."""
    conf = app.conf
    _warn_about_results(conf)
    options = dict(conf.broker_transport_options or {})
    accept = list(conf.accept_content or (conf.task_serializer,))
    expires = conf.result_expires
    if isinstance(expires, dt.timedelta):
        expires = expires.total_seconds()
    return CoreApp(
        core_broker_url(conf.broker_url, options),
        main=app.main,
        prefix=conf.get("celeriac_key_prefix") or "celeriac",
        serializer=conf.task_serializer,
        accept=[_short(name) for name in accept],
        signing_keys=signing_keys(conf.get("celeriac_signing_keys")),
        result_ttl=float(expires) if expires else None,
        default_queue=conf.task_default_queue,
        result_extended=bool(conf.result_extended),
        priority_steps=_calling.core_steps(app.priority_steps),
    )


def _warn_about_results(conf: Any) -> None:
    kind = result_backend_kind(
        conf.result_backend,
        conf.broker_url,
        broker_transport_options=conf.broker_transport_options,
    )
    in_process = str(conf.result_backend).split("://")[0] in ("memory", "cache+memory")
    if kind in ("other", "other_redis") and not in_process:
        warnings.warn(
            f"result_backend {mask_url(str(conf.result_backend))!r} is not the broker: "
            "celeriac keeps results with the broker (docs/differences.md)",
            CeleriacConfigWarning,
            stacklevel=4,
        )
    if conf.result_serializer != conf.task_serializer:
        warnings.warn(
            f"result_serializer {conf.result_serializer!r} differs from task_serializer "
            f"{conf.task_serializer!r}: celeriac encodes both with task_serializer",
            CeleriacConfigWarning,
            stacklevel=4,
        )


def register_core(app: Celery, core: CoreApp, task: TaskBase) -> None:
    """Register ``task`` in the core app, its annotations applied first."""
    conf = app.conf
    _annotate(conf, task)
    tracked = task.track_started if task.track_started is not None else conf.task_track_started
    core_task: CoreTask[Any, Any] = CoreTask(
        core,
        task.worker_function(),
        task.name or "",
        SendOptions(timeout=task.time_limit, soft_timeout=task.soft_time_limit),
        track_started=bool(tracked),
        retry_policy=RetryPolicy(),
        rate_limit=_rate_limit(conf, task),
    )
    core.tasks[core_task.name] = core_task


def _annotate(conf: Any, task: TaskBase) -> None:
    """Apply ``task_annotations`` as Celery does: the first annotation for the task's
    name, then the first for ``'*'`` (dicts, or objects with ``annotate(task)``)."""
    annotations = conf.task_annotations
    if not annotations:
        return
    items = annotations if isinstance(annotations, list | tuple) else [annotations]
    for key in (task.name, "*"):
        found = next((a for a in (_annotation(i, key, task) for i in items) if a), None)
        for attr, value in (found or {}).items():
            setattr(task, attr, value)


def _annotation(item: Any, key: str | None, task: TaskBase) -> Mapping[str, Any] | None:
    if hasattr(item, "annotate"):
        found: Mapping[str, Any] | None = item.annotate(task) if key != "*" else None
        return found
    return item.get(key) if isinstance(item, Mapping) else None


def _rate_limit(conf: Any, task: TaskBase) -> float | None:
    if conf.worker_disable_rate_limits:
        return None
    limit = task.rate_limit if task.rate_limit is not None else conf.task_default_rate_limit
    return per_second(limit)


def signing_keys(value: Any) -> Any:
    """``celeriac_signing_keys`` as the core takes it. A list of bare secrets (the first
    signs, all verify) gets key ids derived from each secret, so that every process
    names a key the same way; a secret, a ``{key_id: secret}`` mapping or ``(key_id,
    secret)`` pairs pass as they are."""
    if not value or isinstance(value, str | bytes | Mapping):
        return value or None
    items = list(value)
    if all(isinstance(item, tuple | list) and len(item) == 2 for item in items):
        return items
    return [(_key_id(secret), secret) for secret in items]


def _key_id(secret: str | bytes) -> str:
    raw = secret.encode() if isinstance(secret, str) else secret
    return "k" + hashlib.sha256(raw).hexdigest()[:12]


_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def per_second(limit: str | float | None) -> float | None:
    """Celery's rate limit (``"10/s"``, ``"100/m"``, ``"1000/h"``, or a number of tasks
    per second) as tasks per second; None or 0 for none."""
    if limit is None or limit == "":
        return None
    if isinstance(limit, int | float):
        return float(limit) or None
    count, _, unit = str(limit).partition("/")
    try:
        rate = float(count) / _PER[unit.strip()[:1] or "s"]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"rate limit {limit!r} is not one of the forms '10/s', '100/m', '1000/h'"
        ) from None
    return rate or None


def _short(name: str) -> str:
    """Celery accepts content types as well as serializer names."""
    return {"application/json": "json", "application/x-msgpack": "msgpack",
            "application/x-python-serialize": "pickle"}.get(name, name)  # fmt: skip
