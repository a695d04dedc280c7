"""`Solar`: a schedule that fires at a solar event (dawn, sunrise, noon, sunset, dusk)
seen from a place on Earth.

The sun's position comes from the low-precision formulas of Meeus, *Astronomical
Algorithms* (ch. 25: about 0.01° in longitude, enough for event times to well under a
minute), and sidereal time from the IAU 1982 expression. An event is the moment the
sun's centre crosses an altitude, rising (dawns, sunrise) or setting (sunset, dusks), or
crosses the meridian (solar noon):

=====================  ===========================================================
``dawn_astronomical``  rising through -18° (the sky stops being fully dark)
``dawn_nautical``      rising through -12°
``dawn_civil``         rising through -6°
``sunrise``            the sun's upper edge rising through -0°34' (no atmosphere
                       is modelled: the 34' stands for refraction)
``solar_noon``         crossing the meridian
``sunset``             the upper edge setting through -0°34'
``dusk_civil``         setting through -6°
``dusk_nautical``      setting through -12°
``dusk_astronomical``  setting through -18°
=====================  ===========================================================

These are the events and horizons of Celery's ``solar`` (which asks the ``ephem``
package); the times agree with it to well within a minute at the latitudes people live.
Far north or south some events do not happen every day (no sunrise in the polar night,
no astronomical dusk in a summer at 60°N): those days are skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ..errors import ConfigurationError

__all__ = ["EVENTS", "Solar"]

_UTC = timezone.utc
_J2000 = datetime(2000, 1, 1, 12, tzinfo=_UTC)  # Julian date 2451545.0
_SIDEREAL_RATE = 360.98564736629  # degrees of hour angle per day
_SUN_RADIUS_AU = 0.266563888  # the sun's apparent radius at one AU, in degrees
_REFRACTION = -34 / 60  # sunrise and sunset: the upper edge at -0°34'
_ITERATIONS = 8
_CONVERGED = 0.01 / 86400  # days: one hundredth of a second
_SEARCH_DAYS = 2 * 366  # longer than a year: any event that happens at all is found

# event -> (rising, setting or transit; altitude of the sun's centre in degrees, or None
# for "the upper edge at -0°34'", whose centre altitude depends on the sun's distance)
EVENTS: dict[str, tuple[str, float | None]] = {
    "dawn_astronomical": ("rising", -18.0),
    "dawn_nautical": ("rising", -12.0),
    "dawn_civil": ("rising", -6.0),
    "sunrise": ("rising", None),
    "solar_noon": ("transit", None),
    "sunset": ("setting", None),
    "dusk_civil": ("setting", -6.0),
    "dusk_nautical": ("setting", -12.0),
    "dusk_astronomical": ("setting", -18.0),
}


@dataclass(frozen=True)
class _Sun:
    declination: float  # degrees
    hour_angle: float  # degrees, in (-180, 180], positive west of the meridian
    distance: float  # astronomical units


def _days(moment: datetime) -> float:
    """Days since J2000.0 (UT)."""
    return (moment - _J2000) / timedelta(days=1)


def _moment(days: float) -> datetime:
    return _J2000 + timedelta(days=days)


def _wrap(degrees: float) -> float:
    """An angle in (-180, 180]."""
    wrapped = math.fmod(degrees, 360.0)
    if wrapped > 180.0:
        wrapped -= 360.0
    elif wrapped <= -180.0:
        wrapped += 360.0
    return wrapped


def _sun(days: float, longitude: float) -> _Sun:
    """Where the sun is ``days`` after J2000.0, seen from ``longitude`` (east positive)."""
    t = days / 36525.0  # Julian centuries
    mean_longitude = 280.46646 + t * (36000.76983 + t * 0.0003032)
    anomaly = math.radians(357.52911 + t * (35999.05029 - t * 0.0001537))
    eccentricity = 0.016708634 - t * (0.000042037 + t * 0.0000001267)
    centre = (
        (1.914602 - t * (0.004817 + t * 0.000014)) * math.sin(anomaly)
        + (0.019993 - t * 0.000101) * math.sin(2 * anomaly)
        + 0.000289 * math.sin(3 * anomaly)
    )
    true_anomaly = anomaly + math.radians(centre)
    distance = 1.000001018 * (1 - eccentricity**2) / (1 + eccentricity * math.cos(true_anomaly))
    node = math.radians(125.04 - 1934.136 * t)
    apparent = math.radians(mean_longitude + centre - 0.00569 - 0.00478 * math.sin(node))
    seconds = 21.448 - t * (46.8150 + t * (0.00059 - t * 0.001813))
    obliquity = math.radians(23 + (26 + seconds / 60) / 60 + 0.00256 * math.cos(node))
    right_ascension = math.degrees(
        math.atan2(math.cos(obliquity) * math.sin(apparent), math.cos(apparent))
    )
    declination = math.degrees(math.asin(math.sin(obliquity) * math.sin(apparent)))
    sidereal = 280.46061837 + _SIDEREAL_RATE * days + t * t * (0.000387933 - t / 38710000)
    return _Sun(declination, _wrap(sidereal + longitude - right_ascension), distance)


def _crossing(sun: _Sun, latitude: float, altitude: float) -> float | None:
    """The hour angle (degrees, >= 0) at which the sun's centre is at ``altitude``, or
    None when it stays above or below it all day."""
    lat, dec = math.radians(latitude), math.radians(sun.declination)
    denominator = math.cos(lat) * math.cos(dec)
    if abs(denominator) < 1e-12:  # at a pole: the sun's altitude is its declination
        return None
    cosine = (math.sin(math.radians(altitude)) - math.sin(lat) * math.sin(dec)) / denominator
    if not -1.0 <= cosine <= 1.0:
        return None
    return math.degrees(math.acos(cosine))


@dataclass(frozen=True)
class Solar:
    """Fires at ``event`` (see :data:`EVENTS`) seen from ``latitude``/``longitude``
    (degrees; north and east positive)."""

    event: str
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ConfigurationError(
                f"unknown solar event {self.event!r}: choose one of {', '.join(EVENTS)}"
            )
        bounds = (("latitude", self.latitude, 90), ("longitude", self.longitude, 180))
        for name, value, bound in bounds:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"{name} must be a number of degrees, got {value!r}")
            if not -bound <= value <= bound:
                raise ConfigurationError(
                    f"{name} {value} is out of range: it must be between -{bound} and {bound}"
                )
        self.next_after(_J2000)  # an event that never happens here is refused now

    def next_after(self, when: datetime) -> datetime:
        """The first time the event happens strictly after ``when``, as an aware UTC
        datetime (days on which it does not happen are skipped)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"when must be an aware datetime, got naive {when.isoformat()}")
        start = math.floor(_days(when)) - 1
        for day in range(start, start + _SEARCH_DAYS):
            found = self.on_day(day)
            if found is not None and found > when:
                return found
        raise ConfigurationError(
            f"{self.describe()} does not happen within two years of {when.isoformat()}"
        )

    def on_day(self, day: int) -> datetime | None:
        """The event on the solar day of ``day`` (days after 2000-01-01 12:00 UT): the
        transit that follows that noon UT, a rising in the half day before it, a setting
        in the half day after. None when it does not happen that day."""
        kind, altitude = EVENTS[self.event]
        transit = day - self.longitude / 360.0  # near enough to start from
        if kind == "transit":
            return self._converge(transit, kind, altitude)
        side = -1 if kind == "rising" else 1
        # where the sun crosses mid-way first; near the polar day or night only close
        # to midnight (the sun's lowest), so that is tried next
        for start in (transit + side * 0.25, transit + side * 0.5):
            found = self._converge(start, kind, altitude)
            if found is not None:
                offset = _days(found) - transit
                if 0 <= side * offset <= 0.5 + 1 / 24:
                    return found
        return None

    def _converge(self, estimate: float, kind: str, altitude: float | None) -> datetime | None:
        for _ in range(_ITERATIONS):
            sun = _sun(estimate, self.longitude)
            target = 0.0
            if kind != "transit":
                crossing = _crossing(sun, self.latitude, self._altitude(sun, altitude))
                if crossing is None:
                    return None
                target = -crossing if kind == "rising" else crossing
            step = _wrap(sun.hour_angle - target) / _SIDEREAL_RATE
            estimate -= step
            if abs(step) < _CONVERGED:
                return _moment(estimate).replace(microsecond=0)
        return None  # no convergence: the sun only grazes the altitude that day

    @staticmethod
    def _altitude(sun: _Sun, altitude: float | None) -> float:
        if altitude is not None:
            return altitude
        return _REFRACTION - _SUN_RADIUS_AU / sun.distance

    def describe(self) -> str:
        return f"solar {self.event} at latitude {self.latitude}, longitude {self.longitude}"
