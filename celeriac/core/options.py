"""`SendOptions`: how one call of a task is routed and run (queue, priority, when...)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .errors import ConfigurationError
from .keys import check_queue_name
from .message import TaskMessage, new_id

__all__ = ["SendOptions", "to_timestamp"]


def to_timestamp(when: float | dt.datetime | None, *, relative: bool = False) -> float | None:
    """POSIX seconds for a datetime (naive means UTC), or for a number of seconds from
    now when ``relative``; a number is otherwise taken as a POSIX timestamp."""
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
        return aware.timestamp()
    if isinstance(when, int | float) and not isinstance(when, bool):
        return time.time() + float(when) if relative else float(when)
    raise ConfigurationError(f"expected seconds or a datetime, got {when!r}")


def _ids(after: Any) -> tuple[str, ...]:
    """Task ids from an id, a handle, or a list of either."""
    items = [after] if isinstance(after, str) or hasattr(after, "id") else after
    return tuple(item if isinstance(item, str) else item.id for item in items)


UNIQUE_MODES = (False, True, "name", "args")


def unique_lock(
    mode: bool | str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> str:
    """The lock a unique call takes: the task name, or (``"args"``) the name and a digest
    of the arguments (JSON with sorted keys; other values by ``repr``)."""
    if mode == "args":
        canonical = json.dumps([list(args), dict(kwargs)], sort_keys=True, default=repr)
        return f"{name}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
    return name


@dataclass(frozen=True)
class SendOptions:
    """Per-task defaults, overridden per call with ``task.options(...)``.

    ``delay`` (seconds) and ``eta`` (datetime or POSIX seconds) postpone a call (with
    ``after``, ``delay`` counts from the moment the tasks waited for are done);
    ``expires`` (seconds from now, or a datetime) drops it if not started in time.
    ``after``: task ids (or handles) to wait for; ``pass_results`` ``"first"`` or
    ``"all"`` hands their results to the task, before its own arguments.
    ``unique``: ``True`` (or ``"name"``) keeps at most one instance of the task queued or
    running, ``"args"`` one per task and arguments; sending another returns the id of the
    one already there.
    """

    queue: str | None = None
    priority: int = 0
    delay: float | None = None
    eta: float | dt.datetime | None = None
    expires: float | dt.datetime | None = None
    task_id: str | None = None
    timeout: float | None = None
    soft_timeout: float | None = None
    max_retries: int | None = 3
    ignore_result: bool = False
    headers: Mapping[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    root_id: str | None = None
    after: tuple[str, ...] = ()
    pass_results: str | None = None
    unique: bool | str = False

    def merged(self, overrides: Mapping[str, Any]) -> SendOptions:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown option(s) {', '.join(unknown)}; known options: {', '.join(sorted(known))}"
            )
        if "after" in overrides:
            overrides = {**overrides, "after": _ids(overrides["after"])}
        if overrides.get("pass_results") not in (None, "first", "all"):
            raise ConfigurationError(
                f"pass_results must be 'first' or 'all', got {overrides['pass_results']!r}"
            )
        if overrides.get("unique", False) not in UNIQUE_MODES:
            raise ConfigurationError(
                f"unique must be True, False, 'name' or 'args', got {overrides['unique']!r}"
            )
        return replace(self, **overrides)

    def message(
        self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], default_queue: str
    ) -> TaskMessage:
        if self.delay is not None and self.eta is not None:
            raise ConfigurationError("give either delay or eta, not both")
        after_delay = float(self.delay) if self.after and self.delay is not None else None
        eta = None
        if self.delay is not None and after_delay is None:
            eta = to_timestamp(self.delay, relative=True)
        task_id = self.task_id or new_id()
        return TaskMessage(
            name=name,
            args=args,
            kwargs=dict(kwargs),
            id=task_id,
            queue=check_queue_name(self.queue or default_queue),
            priority=self.priority,
            eta=eta if eta is not None else to_timestamp(self.eta),
            expires=to_timestamp(self.expires, relative=True),
            max_retries=self.max_retries,
            timeout=self.timeout,
            soft_timeout=self.soft_timeout,
            ignore_result=self.ignore_result,
            parent_id=self.parent_id,
            root_id=self.root_id or task_id,
            headers=dict(self.headers),
            parents=self.after,
            pass_results=self.pass_results,
            unique=unique_lock(self.unique, name, args, kwargs) if self.unique else None,
            after_delay=after_delay,
        )
