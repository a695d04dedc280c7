"""Schedules for periodic tasks: when the next tick falls, as pure time arithmetic.

A schedule answers one question, ``next_after(when)``: the first fire time strictly
after ``when``, as an aware UTC datetime. Two kinds:

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
      restricts. (Like Vixie cron, ``*/2`` counts as starting with ``*``.)
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
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigurationError

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


# -- parsing cron expressions ----------------------------------------------------------


class _Invalid(ValueError):
    """A part of a cron expression is wrong; the message says which and why."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i

    def value(self, text: str) -> int:
        """The number ``text`` stands for, checked against the field's range."""
        lowered = text.lower()
        if lowered in self.names:
            return self.low + self.names.index(lowered)
        if not (text.isascii() and text.isdigit()):
            kind = (
                f"a number or a name ({self.names[0]}-{self.names[-1]})"
                if self.names
                else "a number"
            )
            raise _Invalid(f"{self.name} {text!r} is not {kind}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise _Invalid(f"{self.name} {number} is out of range {self.low}-{self.high}")
        return number


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (
    _Field("second", 0, 59),
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 7, _WEEKDAYS),
)
_NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _parse_item(spec: _Field, item: str) -> range:
    """One list item: ``*``, ``a``, ``a-b``, each optionally followed by ``/step``."""
    base, slash, step_text = item.partition("/")
    step = _parse_step(spec, step_text) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    first, dash, last = base.partition("-")
    if not first or (dash and not last):
        raise _Invalid(f"{spec.name} {item!r} is missing a number")
    low = spec.value(first)
    high = spec.value(last) if dash else (spec.high if slash else low)
    if low > high:
        raise _Invalid(f"{spec.name} range {base!r} runs backwards; write it as a list")
    return range(low, high + 1, step)


def _parse_step(spec: _Field, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= spec.high:
        raise _Invalid(f"{spec.name} step {text!r} is not a number in range 1-{spec.high}")
    return int(text)


def _parse_field(spec: _Field, text: str) -> tuple[int, ...]:
    """The sorted values a field allows."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _Invalid(f"{spec.name} {text!r} has an empty list item")
        values.update(_parse_item(spec, item))
    return tuple(sorted(values))


@dataclass(frozen=True)
class _Fields:
    """A parsed expression: the allowed values of each field, sorted."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 is Sunday
    either_day: bool  # the Vixie rule: day of month OR day of week

    def day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = day.isoweekday() % 7 in self.weekdays
        return in_month or in_week if self.either_day else in_month and in_week

    def time_matches(self, wall: datetime) -> bool:
        return (
            wall.second in self.seconds and wall.minute in self.minutes and wall.hour in self.hours
        )


def _parse_expression(expression: str) -> tuple[_Fields, bool]:
    """The parsed fields, and whether the expression has a seconds field."""
    text = expression.strip()
    text = _NICKNAMES.get(text.lower(), text)
    if text.startswith("@"):
        raise _Invalid(f"unknown nickname {text!r}; use one of {', '.join(_NICKNAMES)}")
    parts = text.split()
    if len(parts) not in (5, 6):
        raise _Invalid(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
            f"(second first), got {len(parts)}"
        )
    with_seconds = len(parts) == 6
    if not with_seconds:
        parts.insert(0, "0")
    second, minute, hour, day, month, weekday = (
        _parse_field(spec, part) for spec, part in zip(_FIELDS, parts, strict=True)
    )
    fields = _Fields(
        seconds=second,
        minutes=minute,
        hours=hour,
        days=day,
        months=month,
        weekdays=frozenset(value % 7 for value in weekday),  # 7 is Sunday too
        either_day=not (parts[3].startswith("*") or parts[5].startswith("*")),
    )
    if not fields.either_day and not _some_day_exists(fields):
        raise _Invalid(
            f"it never fires: day of month {parts[3]!r} does not occur in month {parts[4]!r}"
        )
    return fields, with_seconds


_LONGEST_MONTHS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # in a leap year


def _some_day_exists(fields: _Fields) -> bool:
    return any(day <= _LONGEST_MONTHS[month - 1] for month in fields.months for day in fields.days)


# -- searching wall-clock times --------------------------------------------------------


def _next_value(values: tuple[int, ...], current: int) -> int | None:
    """The smallest allowed value at or above ``current``, if any."""
    index = bisect_left(values, current)
    return values[index] if index < len(values) else None


def _next_day(wall: datetime) -> datetime:
    return datetime(wall.year, wall.month, wall.day) + timedelta(days=1)


def _advance(fields: _Fields, wall: datetime) -> datetime | None:
    """The next wall time worth trying if ``wall`` does not match, else None.

    Jumps by the coarsest field that does not match (month, day, hour, minute, second),
    so a search takes a few steps per month rather than one per minute.
    """
    month = _next_value(fields.months, wall.month)
    if month is None:
        return datetime(wall.year + 1, fields.months[0], 1)
    if month != wall.month:
        return datetime(wall.year, month, 1)
    if not fields.day_matches(wall):
        return _next_day(wall)
    return _advance_time(fields, wall)


def _advance_time(fields: _Fields, wall: datetime) -> datetime | None:
    hour = _next_value(fields.hours, wall.hour)
    if hour is None:
        return _next_day(wall)
    if hour != wall.hour:
        return datetime(wall.year, wall.month, wall.day, hour)
    minute = _next_value(fields.minutes, wall.minute)
    if minute is None:
        return wall.replace(minute=0, second=0) + timedelta(hours=1)
    if minute != wall.minute:
        return wall.replace(minute=minute, second=0)
    second = _next_value(fields.seconds, wall.second)
    if second is None:
        return wall.replace(second=0) + timedelta(minutes=1)
    return None if second == wall.second else wall.replace(second=second)


def _search(fields: _Fields, wall: datetime, last_year: int) -> datetime | None:
    """The first matching wall time at or after ``wall``, up to the end of ``last_year``."""
    last_year = min(last_year, MAXYEAR - 1)  # so that stepping a year on stays in range
    while wall.year <= last_year:
        step = _advance(fields, wall)
        if step is None:
            return wall
        wall = step
    return None


def _instants(zone: ZoneInfo, wall: datetime) -> tuple[datetime, datetime]:
    """The UTC instants of ``wall`` read with fold=0 and fold=1 (PEP 495).

    Equal for an ordinary time; first < second for a repeated time (clocks fell back);
    first > second for a time that does not exist (clocks sprang forward).
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC)
    return first, second


def _after_transition(zone: ZoneInfo, wall: datetime) -> datetime:
    """For a wall time skipped or repeated by a clock change: the first wall time after
    the skipped or repeated stretch."""
    first, second = _instants(zone, wall)
    low, high = sorted(math.floor(instant.timestamp()) for instant in (first, second))
    before, after = _offset_at(zone, low), _offset_at(zone, high)
    while high - low > 1:  # the change happens in (low, high]: bisect to the second
        middle = (low + high) // 2
        low, high = (low, middle) if _offset_at(zone, middle) == after else (middle, high)
    return datetime.fromtimestamp(high, _UTC).replace(tzinfo=None) + max(before, after)


def _offset_at(zone: ZoneInfo, timestamp: int) -> timedelta:
    offset = datetime.fromtimestamp(timestamp, zone).utcoffset()
    return offset if offset is not None else timedelta(0)


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
    _fields: _Fields = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _with_seconds: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            fields, with_seconds = _parse_expression(self.expression)
        except _Invalid as exc:
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
            wall = _after_transition(self._zone, local.replace(tzinfo=None, fold=0))
        last_year = min(wall.year + _SEARCH_YEARS, MAXYEAR)
        while (found := _search(self._fields, wall, last_year)) is not None:
            first, second = _instants(self._zone, found)
            if first <= second:  # an ordinary time, or the first of a repeated one
                return first
            wall = _after_transition(self._zone, found)  # skipped by the clocks today
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
        return f"cron {self.expression!r} ({self.tz})"


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
