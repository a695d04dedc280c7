"""`Solar`: solar events as a schedule — found each day, skipped on days they do not
happen, stored with an entry, and refused when they never happen."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from celeriac.core.cron import Periodic, Solar, ticks_between
from celeriac.core.cron.solar import EVENTS
from celeriac.core.errors import ConfigurationError

UTC = dt.timezone.utc
LONDON = (51.5072, -0.1276)
TROMSO = (69.6496, 18.956)


def test_events_fall_in_their_order_through_a_day() -> None:
    equinox = dt.datetime(2026, 3, 20, 0, 0, tzinfo=UTC)  # every event happens that day
    times = [Solar(event, *LONDON).next_after(equinox) for event in EVENTS]
    assert times == sorted(times) and times[-1] - times[0] < dt.timedelta(hours=24), times
    # in June there is no astronomical night in London: the next one is in late July
    start = dt.datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    assert Solar("dawn_astronomical", *LONDON).next_after(start).date() == dt.date(2026, 7, 22)
    sunrise, noon, sunset = (
        Solar(event, *LONDON).next_after(start) for event in ("sunrise", "solar_noon", "sunset")
    )
    # 1 June 2026 in London: sunrise 03:49 UT, noon 11:58 UT, sunset 20:08 UT
    assert sunrise.strftime("%H:%M") in ("03:48", "03:49")
    assert noon.strftime("%H:%M") in ("11:57", "11:58")
    assert sunset.strftime("%H:%M") in ("20:07", "20:08")
    assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in times)


def test_next_after_is_strictly_after_and_daily() -> None:
    sunset = Solar("sunset", *LONDON)
    first = sunset.next_after(dt.datetime(2026, 3, 1, tzinfo=UTC))
    assert sunset.next_after(first) > first
    assert sunset.next_after(first - dt.timedelta(seconds=1)) == first
    end = first + dt.timedelta(days=9, hours=12)
    ticks = ticks_between(sunset, first - dt.timedelta(seconds=1), end, 100)
    assert len(ticks) == 10
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ticks)]
    assert all(86_400 < gap < 86_400 + 300 for gap in gaps), gaps  # later each March day


def test_days_without_the_event_are_skipped() -> None:
    # polar night in Tromsø: the sun does not rise from late November to mid-January
    sunrise = Solar("sunrise", *TROMSO)
    after = sunrise.next_after(dt.datetime(2026, 12, 10, tzinfo=UTC))
    assert dt.datetime(2027, 1, 13, tzinfo=UTC) < after < dt.datetime(2027, 1, 18, tzinfo=UTC)
    # midnight sun: no astronomical dusk from late March until mid-September
    dusk = Solar("dusk_astronomical", *TROMSO)
    after = dusk.next_after(dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert dt.datetime(2026, 9, 14, tzinfo=UTC) < after < dt.datetime(2026, 9, 20, tzinfo=UTC)


def test_a_place_where_the_event_never_happens_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="does not happen within two years"):
        Solar("dawn_civil", 90.0, 0.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sunrize", 0.0, 0.0), "unknown solar event 'sunrize'"),
        (("sunrise", 91.0, 0.0), "latitude 91.0 is out of range"),
        (("sunrise", 0.0, -181.0), "longitude -181.0 is out of range"),
        (("sunrise", "north", 0.0), "latitude must be a number"),
    ],
)
def test_bad_arguments_are_refused(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Solar(*args)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        Solar("sunrise", *LONDON).next_after(dt.datetime(2026, 1, 1))


def test_a_solar_entry_is_stored_and_read_back() -> None:
    entry = Periodic("t", Solar("dusk_civil", *LONDON), name="evening")
    raw = entry.to_dict()
    assert raw["schedule"] == {"solar": "dusk_civil", "lat": LONDON[0], "lon": LONDON[1]}
    assert Periodic.from_dict(raw) == entry
