"""Celery's schedule objects (``celeriac.schedules``): ``crontab``, ``schedule`` and
``solar``, as a project's beat schedule writes them.

Each field of a ``crontab`` takes what Celery's takes: ``'*'``, a number, a list or
set of numbers, or a cron field (``'*/15'``, ``'1-5'``, ``'mon-fri'``, ``'0,30'``); the
values are checked when it is made and kept as sets (``crontab(minute='*/15').minute
== {0, 15, 30, 45}``). As in Celery, day of month and day of week must *both* match.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ..core.cron._expression import Invalid, parse_expression
from ..core.cron.solar import EVENTS, Solar
from ..core.errors import ConfigurationError
from .exceptions import ImproperlyConfigured

__all__ = ["crontab", "schedule", "solar"]


def _field(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.replace(" ", "")
    if isinstance(value, Iterable):
        return ",".join(str(v) for v in sorted(value, key=str))
    raise ImproperlyConfigured(f"a crontab field cannot be {value!r}")


class crontab:
    """A cron-like schedule: fires when every field matches (minute, hour, day of week,
    day of month, month of year), in the app's time zone."""

    def __init__(
        self,
        minute: Any = "*",
        hour: Any = "*",
        day_of_week: Any = "*",
        day_of_month: Any = "*",
        month_of_year: Any = "*",
        **kwargs: Any,
    ) -> None:
        self._orig = (minute, hour, day_of_week, day_of_month, month_of_year)
        fields = [_field(v) for v in (minute, hour, day_of_month, month_of_year, day_of_week)]
        self.expression = " ".join(fields)
        try:
            parsed, _ = parse_expression(self.expression)
        except Invalid as exc:
            raise ValueError(f"invalid crontab {self.expression!r}: {exc}") from None
        self.minute = set(parsed.minutes)
        self.hour = set(parsed.hours)
        self.day_of_week = set(parsed.weekdays)
        self.day_of_month = set(parsed.days)
        self.month_of_year = set(parsed.months)

    @classmethod
    def from_string(cls, expression: str) -> crontab:
        """From a five-field cron string: ``crontab.from_string('*/5 * * * *')``."""
        parts = expression.split()
        if len(parts) != 5:
            raise ValueError(f"invalid crontab string {expression!r}: expected five fields")
        minute, hour, day_of_month, month_of_year, day_of_week = parts
        return cls(minute, hour, day_of_week, day_of_month, month_of_year)

    def __repr__(self) -> str:
        minute, hour, day_of_week, day_of_month, month_of_year = self._orig
        shown = " ".join(str(v) for v in (minute, hour, day_of_month, month_of_year, day_of_week))
        return f"<crontab: {shown} (m/h/dM/MY/d)>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, crontab):
            return NotImplemented
        mine = (self.minute, self.hour, self.day_of_week, self.day_of_month, self.month_of_year)
        theirs = (other.minute, other.hour, other.day_of_week, other.day_of_month)
        return mine == (*theirs, other.month_of_year)

    __hash__ = None  # type: ignore[assignment]  # mutable, as Celery's


class schedule:
    """Every ``run_every`` (seconds or a timedelta)."""

    def __init__(self, run_every: float | dt.timedelta, relative: bool = False, **kw: Any) -> None:
        seconds = run_every.total_seconds() if isinstance(run_every, dt.timedelta) else run_every
        if seconds <= 0:
            raise ValueError(f"schedule run_every must be positive, got {run_every!r}")
        self.run_every = dt.timedelta(seconds=float(seconds))
        self.relative = relative

    @property
    def seconds(self) -> float:
        return self.run_every.total_seconds()

    def __repr__(self) -> str:
        return f"<freq: {_humanize(self.seconds)}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, schedule):
            return NotImplemented
        return self.run_every == other.run_every

    __hash__ = None  # type: ignore[assignment]


_UNITS = (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0), ("second", 1.0))


def _humanize(seconds: float) -> str:
    """``90`` → ``1.50 minutes``, as Celery shows an interval."""
    for unit, size in _UNITS:
        if seconds >= size:
            count = seconds / size
            return f"{count:.2f} {unit}{'' if count == 1 else 's'}"
    return "now"


class solar:
    """Fires at a solar event seen from a place: ``solar('sunset', 51.5, -0.12)``.

    Events: ``dawn_astronomical``, ``dawn_nautical``, ``dawn_civil``, ``sunrise``,
    ``solar_noon``, ``sunset``, ``dusk_civil``, ``dusk_nautical``, ``dusk_astronomical``
    (Celery's names and horizons). Computed by celeriac itself, so the ``ephem`` package
    is not needed; the times agree with Celery's to within a minute (docs/periodic.md).
    """

    def __init__(self, event: str, lat: float, lon: float, **kwargs: Any) -> None:
        if event not in EVENTS:
            raise ValueError(
                f"Argument event {event!r} is invalid, must be one of {', '.join(sorted(EVENTS))}."
            )
        if not -90 <= lat <= 90:
            raise ValueError(f"Argument latitude {lat} is invalid, must be between -90 and 90.")
        if not -180 <= lon <= 180:
            raise ValueError(f"Argument longitude {lon} is invalid, must be between -180 and 180.")
        self.event = event
        self.lat = lat
        self.lon = lon
        try:
            self.core = Solar(event, lat, lon)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None

    def __reduce__(self) -> tuple[type, tuple[str, float, float]]:
        return self.__class__, (self.event, self.lat, self.lon)

    def __repr__(self) -> str:
        return f"<solar: {self.event} at latitude {self.lat}, longitude: {self.lon}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, solar):
            return NotImplemented
        return (self.event, self.lat, self.lon) == (other.event, other.lat, other.lon)

    __hash__ = None  # type: ignore[assignment]
