"""``celeriac.schedules``: crontab and schedule read their fields as Celery's do."""

from __future__ import annotations

import datetime as dt
from typing import Any

import celery.schedules as real
import pytest

from celeriac.schedules import crontab, schedule, solar
from tests.celery_reference import celery_reference

FORMS = [
    {},
    {"minute": "*/15"},
    {"minute": 0, "hour": [0, 12]},
    {"minute": "0,30", "hour": "9-17", "day_of_week": "mon-fri"},
    {"day_of_week": "sun", "day_of_month": "1-7"},
    {"minute": "5", "hour": "*/3", "month_of_year": "1,4,7,10"},
    {"day_of_week": {0, 6}},
]


@pytest.mark.parametrize("fields", FORMS, ids=str)
def test_crontab_fields_like_celery(fields: dict[str, object]) -> None:
    ours, theirs = crontab(**fields), real.crontab(**fields)  # type: ignore[arg-type]
    for name in ("minute", "hour", "day_of_week", "day_of_month", "month_of_year"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert repr(ours) == repr(theirs)


def test_crontab_from_string_equality_and_errors() -> None:
    assert crontab.from_string("*/5 * * * *") == crontab(minute="*/5")
    assert crontab(minute=0) == crontab(minute="0")
    with pytest.raises(ValueError, match="invalid crontab"):
        crontab(minute="61")
    with pytest.raises(ValueError, match="five fields"):
        crontab.from_string("* * *")


def test_schedule() -> None:
    assert schedule(30).run_every == dt.timedelta(seconds=30) == real.schedule(30).run_every
    assert repr(schedule(dt.timedelta(minutes=1))) == repr(real.schedule(60))
    with pytest.raises(ValueError, match="positive"):
        schedule(0)


# where people live, from the equator to 65 degrees; farther out the two disagree only
# on the days the sun grazes an event's altitude (see docs/periodic.md)
PLACES = {
    "london": (51.5, -0.12),
    "new-york": (40.7, -74.0),
    "sydney": (-33.9, 151.2),
    "quito": (-0.18, -78.47),
    "tokyo": (35.7, 139.7),
    "auckland": (-36.85, 174.76),
    "honolulu": (21.3, -157.86),
    "helsinki": (60.17, 24.94),
}


def _celerys_next_event(theirs: real.solar, start: dt.datetime) -> dt.datetime:
    import ephem

    theirs.cal.date = start
    found = theirs._next_event(ephem.Date(start))
    return found.datetime().replace(tzinfo=dt.timezone.utc)  # type: ignore[no-any-return]


@celery_reference
@pytest.mark.parametrize("event", sorted(real.solar._all_events))
def test_solar_events_fall_when_celerys_do(event: str) -> None:
    pytest.importorskip("ephem")
    worst = 0.0
    for lat, lon in PLACES.values():
        ours, theirs = solar(event, lat, lon), real.solar(event, lat, lon)
        assert repr(ours) == repr(theirs)
        for week in range(0, 53, 2):
            start = dt.datetime(2026, 1, 1, week % 24, tzinfo=dt.timezone.utc)
            start += dt.timedelta(weeks=week)
            expected = _celerys_next_event(theirs, start)
            got = ours.core.next_after(start)
            worst = max(worst, abs((got - expected).total_seconds()))
            assert abs(got - expected) < dt.timedelta(minutes=1), (lat, lon, start)
    assert worst < 60


@pytest.mark.parametrize(
    "args",
    [("sunrize", 0.0, 0.0), ("sunrise", 91, 0.0), ("sunrise", 0.0, -181)],
)
def test_bad_solar_arguments_are_refused_as_celery_refuses_them(args: tuple[Any, ...]) -> None:
    pytest.importorskip("ephem")
    with pytest.raises(ValueError, match=r"^Argument") as theirs:
        real.solar(*args)
    with pytest.raises(ValueError, match=r"^Argument") as ours:
        solar(*args)
    if args[0] == "sunrize":  # the same message but for how the list of events is written
        assert str(ours.value).startswith("Argument event 'sunrize' is invalid")
    else:
        assert str(ours.value) == str(theirs.value)


def test_solar_equality_and_pickling() -> None:
    import pickle

    assert solar("sunset", 1.0, 2.0) == solar("sunset", 1.0, 2.0) != solar("sunrise", 1.0, 2.0)
    assert pickle.loads(pickle.dumps(solar("sunset", 1.0, 2.0))) == solar("sunset", 1.0, 2.0)
    with pytest.raises(ValueError, match="does not happen"):
        solar("dawn_civil", 90, 0)
