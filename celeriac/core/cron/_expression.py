"""Cron expressions: parsing the fields, and searching wall-clock times that match.

The rules are in the docstring of :mod:`celeriac.core.cron.schedules`; this module is the
machinery behind :class:`~celeriac.core.cron.schedules.Cron`.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

__all__ = ["Fields", "Invalid", "after_transition", "instants", "parse_expression", "search"]

_UTC = timezone.utc

# -- parsing cron expressions ----------------------------------------------------------


class Invalid(ValueError):
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
            raise Invalid(f"{self.name} {text!r} is not {kind}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise Invalid(f"{self.name} {number} is out of range {self.low}-{self.high}")
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
        raise Invalid(f"{spec.name} {item!r} is missing a number")
    low = spec.value(first)
    high = spec.value(last) if dash else (spec.high if slash else low)
    if low > high:
        raise Invalid(f"{spec.name} range {base!r} runs backwards; write it as a list")
    return range(low, high + 1, step)


def _parse_step(spec: _Field, text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= spec.high:
        raise Invalid(f"{spec.name} step {text!r} is not a number in range 1-{spec.high}")
    return int(text)


def _parse_field(spec: _Field, text: str) -> tuple[int, ...]:
    """The sorted values a field allows."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise Invalid(f"{spec.name} {text!r} has an empty list item")
        values.update(_parse_item(spec, item))
    return tuple(sorted(values))


@dataclass(frozen=True)
class Fields:
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


def parse_expression(expression: str, both_days: bool = False) -> tuple[Fields, bool]:
    """The parsed fields, and whether the expression has a seconds field. A day must
    match the day of month OR the day of week when both are restricted (the Vixie
    rule), or, with ``both_days``, both of them (as Celery's ``crontab``)."""
    text = expression.strip()
    text = _NICKNAMES.get(text.lower(), text)
    if text.startswith("@"):
        raise Invalid(f"unknown nickname {text!r}; use one of {', '.join(_NICKNAMES)}")
    parts = text.split()
    if len(parts) not in (5, 6):
        raise Invalid(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 "
            f"(second first), got {len(parts)}"
        )
    with_seconds = len(parts) == 6
    if not with_seconds:
        parts.insert(0, "0")
    second, minute, hour, day, month, weekday = (
        _parse_field(spec, part) for spec, part in zip(_FIELDS, parts, strict=True)
    )
    fields = Fields(
        seconds=second,
        minutes=minute,
        hours=hour,
        days=day,
        months=month,
        weekdays=frozenset(value % 7 for value in weekday),  # 7 is Sunday too
        either_day=not (both_days or parts[3].startswith("*") or parts[5].startswith("*")),
    )
    if not fields.either_day and not _some_day_exists(fields):
        raise Invalid(
            f"it never fires: day of month {parts[3]!r} does not occur in month {parts[4]!r}"
            + (f" on day of week {parts[5]!r}" if both_days else "")
        )
    return fields, with_seconds


_LONGEST_MONTHS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # in a leap year


def _some_day_exists(fields: Fields) -> bool:
    return any(day <= _LONGEST_MONTHS[month - 1] for month in fields.months for day in fields.days)


# -- searching wall-clock times --------------------------------------------------------


def _next_value(values: tuple[int, ...], current: int) -> int | None:
    """The smallest allowed value at or above ``current``, if any."""
    index = bisect_left(values, current)
    return values[index] if index < len(values) else None


def _next_day(wall: datetime) -> datetime:
    return datetime(wall.year, wall.month, wall.day) + timedelta(days=1)


def _advance(fields: Fields, wall: datetime) -> datetime | None:
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


def _advance_time(fields: Fields, wall: datetime) -> datetime | None:
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


def search(fields: Fields, wall: datetime, last_year: int) -> datetime | None:
    """The first matching wall time at or after ``wall``, up to the end of ``last_year``."""
    last_year = min(last_year, MAXYEAR - 1)  # so that stepping a year on stays in range
    while wall.year <= last_year:
        step = _advance(fields, wall)
        if step is None:
            return wall
        wall = step
    return None


def instants(zone: ZoneInfo, wall: datetime) -> tuple[datetime, datetime]:
    """The UTC instants of ``wall`` read with fold=0 and fold=1 (PEP 495).

    Equal for an ordinary time; first < second for a repeated time (clocks fell back);
    first > second for a time that does not exist (clocks sprang forward).
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC)
    return first, second


def after_transition(zone: ZoneInfo, wall: datetime) -> datetime:
    """For a wall time skipped or repeated by a clock change: the first wall time after
    the skipped or repeated stretch."""
    first, second = instants(zone, wall)
    low, high = sorted(math.floor(instant.timestamp()) for instant in (first, second))
    before, after = _offset_at(zone, low), _offset_at(zone, high)
    while high - low > 1:  # the change happens in (low, high]: bisect to the second
        middle = (low + high) // 2
        low, high = (low, middle) if _offset_at(zone, middle) == after else (middle, high)
    return datetime.fromtimestamp(high, _UTC).replace(tzinfo=None) + max(before, after)


def _offset_at(zone: ZoneInfo, timestamp: int) -> timedelta:
    offset = datetime.fromtimestamp(timestamp, zone).utcoffset()
    return offset if offset is not None else timedelta(0)
