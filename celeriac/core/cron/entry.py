"""`Periodic`: a task sent on a schedule, and which of its ticks are due.

An entry names a task (by name, so a scheduler need not import it), its arguments, its
send options and a schedule. Each tick is sent as a task whose id is derived from the
entry's name and the tick's time, so the same tick always has the same id.

**Missed ticks.** A tick is *late* once more than ``grace`` seconds have passed since it
fell (every scheduler was down, or stopped for a while); ticks less late than that fire
as usual. What happens to late ticks is the entry's ``missed`` policy:

``"once"`` (default, Celery beat's behaviour)
    the most recent late tick fires once, standing for all of them;
``"skip"``
    late ticks are dropped; the entry resumes with its next tick;
``"all"``
    every late tick fires, oldest first (at most ``CATCH_UP_LIMIT``, the most recent).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from .. import _fields as f
from ..codec import Codec
from ..errors import ConfigurationError, DecodeError
from ..message import TaskMessage
from ..options import SendOptions
from .schedules import Cron, Every, Schedule, ticks_between
from .solar import Solar

__all__ = [
    "CATCH_UP_LIMIT",
    "DEFAULT_GRACE",
    "MISSED",
    "Periodic",
    "Plan",
    "from_ms",
    "plan",
    "tick_id",
    "to_ms",
]

MISSED = ("once", "skip", "all")
DEFAULT_GRACE = 30.0
CATCH_UP_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_WHAT = "periodic entry"
# send options a tick decides for itself: when it is sent, and its id
_TICK_OPTIONS = frozenset({"delay", "eta", "task_id", "after", "pass_results"})
_OPTIONS = frozenset(fld.name for fld in fields(SendOptions)) - _TICK_OPTIONS
_ID_SPACE = uuid.UUID("6f1f3c0e-5a59-4c1e-9a57-2f0d7c6b8e11")


def tick_id(entry: str, tick: datetime) -> str:
    """The task id of an entry's tick: the same for every scheduler (a UUID string)."""
    return str(uuid.uuid5(_ID_SPACE, f"{entry}\n{to_ms(tick)}"))


def to_ms(moment: datetime) -> int:
    """Whole milliseconds since the epoch (how the broker keeps ticks)."""
    return (moment - _EPOCH) // _MILLISECOND


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MILLISECOND


@dataclass(frozen=True)
class Periodic:
    """Send task ``task`` (a name) with ``args``/``kwargs`` at each tick of ``schedule``.

    ``name`` identifies the entry (default: the task's name); ``options`` are send
    options (queue, priority, expires, timeout, headers, unique...), applied over the
    task's own when it is registered where the scheduler runs. ``missed`` and ``grace``
    say what happens to ticks missed while no scheduler ran (see the module docstring).
    """

    task: str
    schedule: Schedule
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    missed: str = "once"
    grace: float = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if not self.task:
            raise ConfigurationError("a periodic entry needs the name of the task it sends")
        if not self.name:
            object.__setattr__(self, "name", self.task)
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        object.__setattr__(self, "options", dict(self.options))
        if not isinstance(self.schedule, Schedule):
            raise ConfigurationError(
                f"periodic entry {self.name!r}: {self.schedule!r} is not a schedule "
                "(use Cron, Every, Solar or parse_schedule)"
            )
        if self.missed not in MISSED:
            raise ConfigurationError(
                f"periodic entry {self.name!r}: missed must be one of {MISSED}, got {self.missed!r}"
            )
        if isinstance(self.grace, bool) or not self.grace >= 0:
            raise ConfigurationError(
                f"periodic entry {self.name!r}: grace must be seconds >= 0, got {self.grace!r}"
            )
        self._check_options()

    def _check_options(self) -> None:
        unknown = sorted(set(self.options) - _OPTIONS)
        if unknown:
            taken = sorted(_TICK_OPTIONS & set(unknown))
            hint = f" ({', '.join(taken)}: each tick sets these itself)" if taken else ""
            raise ConfigurationError(
                f"periodic entry {self.name!r}: unknown send option(s) {', '.join(unknown)}"
                f"{hint}; known: {', '.join(sorted(_OPTIONS))}"
            )
        SendOptions().merged(self.options)  # the values are checked there

    def send_options(self, defaults: SendOptions) -> SendOptions:
        """``defaults`` (the task's, when registered here) with this entry's options."""
        return defaults.merged(self.options)

    def message(self, tick: datetime, options: SendOptions, default_queue: str) -> TaskMessage:
        """The message that sends ``tick``: its id is :func:`tick_id`, and its headers
        say which entry and tick it is (``periodic``: ``{"entry", "tick"}``)."""
        headers = {**options.headers, "periodic": {"entry": self.name, "tick": tick.timestamp()}}
        per_tick = options.merged({"task_id": tick_id(self.name, tick), "headers": headers})
        return per_tick.message(self.task, self.args, self.kwargs, default_queue)

    # -- storing ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "schedule": _schedule_to_dict(self.schedule, self.name),
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "options": dict(self.options),
            "missed": self.missed,
            "grace": self.grace,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Periodic:
        data = f.as_mapping(raw, _WHAT)
        args = data.get("args", [])
        if not isinstance(args, list | tuple):
            raise DecodeError(f"{_WHAT} field 'args' must be a list, got {args!r}")
        try:
            return cls(
                name=f.required_str(data, "name", _WHAT),
                task=f.required_str(data, "task", _WHAT),
                schedule=_schedule_from_dict(data.get("schedule")),
                args=tuple(args),
                kwargs=_str_keyed(data, "kwargs"),
                options=_str_keyed(data, "options"),
                missed=f.required_str(data, "missed", _WHAT),
                grace=f.optional_number(data, "grace", _WHAT) or 0.0,
            )
        except ConfigurationError as exc:
            raise DecodeError(f"stored {exc}") from None

    def encode(self, codec: Codec) -> bytes:
        """Serialize and sign through ``codec`` (stored entries are signed like tasks)."""
        return codec.encode(self.to_dict(), what=f"periodic entry {self.name!r}")

    @classmethod
    def decode(cls, data: bytes, codec: Codec) -> Periodic:
        return cls.from_dict(codec.decode(data))


def _str_keyed(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DecodeError(f"{_WHAT} field {key!r} must be a mapping with string keys")
    return dict(value)


def _schedule_to_dict(schedule: Schedule, name: str) -> dict[str, Any]:
    if isinstance(schedule, Cron):
        shape = {"cron": schedule.expression, "tz": schedule.tz}
        return shape if schedule.days == "either" else {**shape, "days": schedule.days}
    if isinstance(schedule, Every):
        anchor_us = (schedule.anchor - _EPOCH) // _MICROSECOND
        return {"every": schedule.seconds, "anchor_us": anchor_us}
    if isinstance(schedule, Solar):
        return {"solar": schedule.event, "lat": schedule.latitude, "lon": schedule.longitude}
    raise ConfigurationError(
        f"periodic entry {name!r}: only Cron, Every and Solar schedules can be stored in the "
        f"broker, not {schedule.describe()}; declare it in code instead"
    )


def _schedule_from_dict(raw: Any) -> Schedule:
    what = f"{_WHAT} schedule"
    data = f.as_mapping(raw, what)
    if "cron" in data:
        days = data.get("days", "either")
        if not isinstance(days, str):
            raise DecodeError(f"{what} field 'days' must be a string, got {days!r}")
        return Cron(f.required_str(data, "cron", what), f.required_str(data, "tz", what), days)
    if "solar" in data:
        latitude = f.optional_number(data, "lat", what)
        longitude = f.optional_number(data, "lon", what)
        if latitude is None or longitude is None:
            raise DecodeError(f"{what} 'solar' needs 'lat' and 'lon'")
        return Solar(f.required_str(data, "solar", what), latitude, longitude)
    seconds = f.optional_number(data, "every", what)
    anchor_us = f.optional(data, "anchor_us", int, what)
    if seconds is None or anchor_us is None:
        raise DecodeError(f"{what} must hold 'cron' and 'tz', 'every' and 'anchor_us', or 'solar'")
    return Every(seconds, _EPOCH + anchor_us * _MICROSECOND)


# -- which ticks are due -----------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What to do for one entry now: the ticks to send (oldest first), the tick to move
    its state to without sending (late ticks dropped), and how many late ticks are
    not sent (``more`` when there were too many to count)."""

    fire: tuple[datetime, ...] = ()
    advance: datetime | None = None
    dropped: int = 0
    more: bool = False


def plan(entry: Periodic, last: datetime, now: datetime, limit: int = CATCH_UP_LIMIT) -> Plan:
    """The ticks of ``entry`` in (``last``, ``now``] and what its policy does with them."""
    pending = ticks_between(entry.schedule, last, now, limit + 1)
    more = len(pending) > limit
    pending = pending[-limit:]
    grace = timedelta(seconds=entry.grace)
    late = [tick for tick in pending if now - tick > grace]
    on_time = tuple(pending[len(late) :])
    if entry.missed == "all" or not late:
        return Plan(tuple(pending), dropped=0, more=more)
    if entry.missed == "once":
        return Plan((late[-1], *on_time), dropped=len(late) - 1, more=more)
    return Plan(on_time, advance=None if on_time else late[-1], dropped=len(late), more=more)
