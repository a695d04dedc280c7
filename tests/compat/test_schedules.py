"""``celeriac.schedules``: crontab and schedule read their fields as Celery's do."""

from __future__ import annotations

import datetime as dt

import celery.schedules as real
import pytest

from celeriac.exceptions import ImproperlyConfigured
from celeriac.schedules import crontab, schedule, solar

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


def test_schedule_and_solar() -> None:
    assert schedule(30).run_every == dt.timedelta(seconds=30) == real.schedule(30).run_every
    assert repr(schedule(dt.timedelta(minutes=1))) == repr(real.schedule(60))
    with pytest.raises(ValueError, match="positive"):
        schedule(0)
    with pytest.raises(ImproperlyConfigured, match="solar"):
        solar("sunrise", 0.0, 0.0)
