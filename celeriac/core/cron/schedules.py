"""Schedules for periodic tasks: when the next tick falls, as pure time arithmetic.

A schedule answers one question, ``next_after(when)``: the first fire time strictly
after ``when``, as an aware UTC datetime. Two kinds here (and ``Solar``, in ``solar.py``):

``Every(seconds)``
    A fixed interval. Ticks fall at ``anchor + k * seconds`` (the anchor defaults to
    1970-01-01 UTC), so every scheduler, whenever it starts, computes the same ticks.
    Arithmetic is in whole microseconds, so a tick a million intervals out is exact.

``Cron(expression, tz)``
    A cron expression read as classic Vixie cron reads it, in a time zone.

    - Five fields, ``minute hour day-of-month month day-of-week``, or six with
      ``second`` first. Ranges: second and minute 0-59, hour 0-23, day of month 1-31,
      month 1-12 (or ``jan``-``dec``), day of week 0-7 (or ``sun``-``sat``; 0 and 7 are
      both Sunday). Names are case-insensitive.
    - In each field: ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
      ``a/n`` (``a`` up to the field's maximum), and lists of these ``a,b-c,*/n``.
      A step is 1 up to the field's maximum; a range must not run backwards.
    - Day of month and day of week: when both are restricted (neither field starts
      with ``*``) a day fires when *either* matches, so ``0 0 1 * mon`` fires on the
      first of the month and on every Monday. When one field starts with ``*`` the
      two are combined with AND; for a plain ``*`` that means only the other field
      restricts. (Like Vixie cron, ``*/2`` counts as starting with ``*``.) With
      ``days="both"`` a day must match both fields, as Celery's ``crontab`` reads them:
      ``Cron("0 0 1-7 * mon", days="both")`` is the first Monday of each month.
    - Nicknames: ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
      (``@midnight``) and ``@hourly``.
    - Fields are wall-clock times in ``tz``. Across daylight saving time: a wall time
      that does not exist that day (the clocks spring forward over it, e.g. 02:30 in
      Europe/Paris on the last Sunday of March) is skipped that day, not moved; a wall
      time that happens twice (the clocks fall back) fires once, at its first
      occurrence.
    - An expression that is malformed or can never fire (``0 0 30 2 *``) is refused
      with ``ConfigurationError`` when the ``Cron`` is made.

``parse_schedule`` turns what a user writes (a cron string, a number of seconds, a
``timedelta``) into a schedule; ``ticks_between`` lists the ticks missed in a span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import MAXYEAR, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigurationError
from ._expression import Fields, Invalid, after_transition, instants, parse_expression, search

__all__ = ["Cron", "Every", "Schedule", "parse_schedule", "ticks_between"]

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_SECOND = timedelta(seconds=1)
_MICROSECOND = timedelta(microseconds=1)
# The Gregorian calendar repeats every 400 years: a search that long finds any tick.
_SEARCH_YEARS = 400


@runtime_checkable
class Schedule(Protocol):
    """When a periodic task fires."""

    def next_after(self, when: datetime) -> datetime:
        """The first fire time strictly after ``when`` (aware), as an aware UTC datetime."""
        ...

    def describe(self) -> str:
        """A short description for logs, e.g. ``every 30s``."""
        ...


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigurationError(
            f"unknown time zone {tz!r}: use an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def _aware(when: datetime, name: str = "when") -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{name} must be an aware datetime (with a tzinfo), got naive {when.isoformat()}; "
            "use datetime.now(timezone.utc) rather than datetime.now()"
        )
    return when


# -- schedules -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cron:
    """A cron expression in a time zone (see the module docstring for the rules)."""

    expression: str
    tz: str = "UTC"
    days: str = "either"  # or "both": how day of month and day of week combine
    _fields: Fields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _with_seconds: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.days not in ("either", "both"):
            raise ConfigurationError(f"days must be 'either' or 'both', got {self.days!r}")
        try:
            fields, with_seconds = parse_expression(self.expression, self.days == "both")
        except Invalid as exc:
            raise ConfigurationError(
                f"invalid cron expression {self.expression!r}: {exc}"
            ) from None
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_zone", _zone(self.tz))
        object.__setattr__(self, "_with_seconds", with_seconds)

    def next_after(self, when: datetime) -> datetime:
        """The first fire time strictly after ``when``, as an aware UTC datetime."""
        local = _aware(when).astimezone(self._zone)
        wall = local.replace(tzinfo=None, microsecond=0) + _SECOND
        if local.fold:  # the second pass of a repeated hour: its times fired the first time
            wall = after_transition(self._zone, local.replace(tzinfo=None, fold=0))
        last_year = min(wall.year + _SEARCH_YEARS, MAXYEAR)
        while (found := search(self._fields, wall, last_year)) is not None:
            first, second = instants(self._zone, found)
            if first <= second:  # an ordinary time, or the first of a repeated one
                return first
            wall = after_transition(self._zone, found)  # skipped by the clocks today
        raise ConfigurationError(f"{self.describe()} never fires after {when.isoformat()}")

    def matches(self, when: datetime) -> bool:
        """Whether ``when`` is a fire time: it falls in a matching second (six fields) or
        minute (five). The second pass of a repeated wall time does not match."""
        local = _aware(when).astimezone(self._zone)
        if local.fold:
            return False
        wall = local.replace(tzinfo=None, microsecond=0)
        if not self._with_seconds:
            wall = wall.replace(second=0)
        fields = self._fields
        return (
            wall.month in fields.months and fields.day_matches(wall) and fields.time_matches(wall)
        )

    def describe(self) -> str:
        both = ", days: both" if self.days == "both" else ""
        return f"cron {self.expression!r} ({self.tz}{both})"


@dataclass(frozen=True)
class Every:
    """A fixed interval, anchored at an epoch (default 1970-01-01 UTC) so that every
    scheduler computes the same ticks: ``anchor + k * seconds`` for whole ``k``."""

    seconds: float
    anchor: datetime = _EPOCH

    def __post_init__(self) -> None:
        if not (isinstance(self.seconds, (int, float)) and math.isfinite(self.seconds)):
            raise ConfigurationError(
                f"an interval must be a finite number of seconds, got {self.seconds!r}"
            )
        if self._step() < 1:
            raise ConfigurationError(
                "an interval must be positive (one microsecond at least), "
                f"got {self.seconds!r} seconds"
            )
        try:
            _aware(self.anchor, "anchor")
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None

    def _step(self) -> int:
        return round(self.seconds * 1_000_000)

    def next_after(self, when: datetime) -> datetime:
        """The first tick strictly after ``when``, as an aware UTC datetime."""
        anchor = self.anchor.astimezone(_UTC)
        elapsed = (_aware(when) - anchor) // _MICROSECOND
        ticks = elapsed // self._step() + 1
        return anchor + ticks * self._step() * _MICROSECOND

    def describe(self) -> str:
        text = f"every {self.seconds:.15g}s"
        return text if self.anchor == _EPOCH else f"{text} from {self.anchor.isoformat()}"


def parse_schedule(spec: str | float | timedelta | Schedule, tz: str = "UTC") -> Schedule:
    """A schedule from what a user writes.

    A string is a cron expression in ``tz`` (5 fields, 6 with seconds first, or a
    nickname such as ``@daily``); a number of seconds or a ``timedelta`` is an interval
    (``tz`` does not apply); a schedule is returned as it is.
    """
    if isinstance(spec, str):
        return Cron(spec, tz)
    if isinstance(spec, timedelta):
        return Every(spec.total_seconds())
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Every(spec)
    if isinstance(spec, Schedule):
        return spec
    raise ConfigurationError(
        f"cannot make a schedule from {spec!r}: give a cron string, seconds or a timedelta"
    )


def ticks_between(schedule: Schedule, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """The fire times in (start, end], oldest first; at most ``limit``, the most recent.

    Looks back from ``end`` over a span that doubles until it holds ``limit`` ticks or
    reaches ``start``, so catching up after a long pause costs about ``limit`` steps.
    """
    _aware(start, "start")
    _aware(end, "end")
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    span = timedelta(milliseconds=1)
    while limit and start < end:
        low = start if span >= end - start else end - span
        ticks = _ticks_in(schedule, low, end)
        if len(ticks) >= limit or low == start:
            return ticks[-limit:]
        span *= 2
    return []


def _ticks_in(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    ticks = []
    tick = schedule.next_after(start)
    while tick <= end:
        ticks.append(tick)
        tick = schedule.next_after(tick)
    return ticks
