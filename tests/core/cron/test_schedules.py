from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from celeriac.core.cron import Cron, Every, Schedule, parse_schedule, ticks_between
from celeriac.core.errors import ConfigurationError

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, *clock: int) -> datetime:
    """An aware UTC datetime; ``clock`` is hour, minute, second, microsecond, as given."""
    hour, minute, second, micro = (*clock, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def fires(expression: str, after: datetime, count: int = 5, tz: str = "UTC") -> list[datetime]:
    """The next ``count`` fire times, as wall-clock times in ``tz``."""
    cron, zone, found = Cron(expression, tz), ZoneInfo(tz), []
    for _ in range(count):
        after = cron.next_after(after)
        found.append(after)
    return [moment.astimezone(zone) for moment in found]


def walls(moments: list[datetime]) -> list[str]:
    return [moment.strftime("%Y-%m-%d %H:%M:%S") for moment in moments]


def minutes(expression: str, count: int = 5) -> list[int]:
    return [moment.minute for moment in fires(expression, utc(2024, 1, 1), count)]


# -- field syntax ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * *", [1, 2, 3, 4]),
        ("7 * * * *", [7, 7, 7]),
        ("10-12 * * * *", [10, 11, 12, 10]),
        ("*/15 * * * *", [15, 30, 45, 0, 15]),
        ("10-30/10 * * * *", [10, 20, 30, 10]),
        ("50/3 * * * *", [50, 53, 56, 59, 50]),
        ("5,1,20-22,*/30 * * * *", [1, 5, 20, 21, 22, 30, 0]),
        ("0-59/59 * * * *", [59, 0, 59]),
    ],
)
def test_minute_field_syntax(expression: str, expected: list[int]) -> None:
    assert minutes(expression, len(expected)) == expected


def test_hour_and_day_fields() -> None:
    assert walls(fires("30 9-17/4 * * *", utc(2024, 1, 1), 4)) == [
        "2024-01-01 09:30:00",
        "2024-01-01 13:30:00",
        "2024-01-01 17:30:00",
        "2024-01-02 09:30:00",
    ]
    assert walls(fires("0 0 1,15 * *", utc(2024, 1, 1), 3)) == [
        "2024-01-15 00:00:00",
        "2024-02-01 00:00:00",
        "2024-02-15 00:00:00",
    ]


def test_month_and_weekday_names_are_case_insensitive() -> None:
    assert [m.month for m in fires("0 0 1 JAN,jul,Oct-dec *", utc(2024, 1, 1), 5)] == [
        7,
        10,
        11,
        12,
        1,
    ]
    weekdays = {m.strftime("%a") for m in fires("0 0 * * MON-fri", utc(2024, 1, 1), 20)}
    assert weekdays == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert Cron("0 0 1 jan-dec/3 *") == Cron("0 0 1 jan-dec/3 *")
    assert [m.month for m in fires("0 0 1 jan-dec/3 *", utc(2024, 1, 1), 4)] == [4, 7, 10, 1]
    assert [m.strftime("%a") for m in fires("0 0 * * thu/2", utc(2024, 1, 1), 2)] == ["Thu", "Sat"]


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN", "0,7", "7-7"])
def test_zero_and_seven_are_both_sunday(sunday: str) -> None:
    assert {m.strftime("%a") for m in fires(f"0 0 * * {sunday}", utc(2024, 1, 1), 4)} == {"Sun"}


def test_a_weekday_range_can_end_on_seven() -> None:
    days = {m.strftime("%a") for m in fires("0 0 * * 5-7", utc(2024, 1, 1), 9)}
    assert days == {"Fri", "Sat", "Sun"}


# -- day of month and day of week ------------------------------------------------------


def test_both_days_restricted_means_either() -> None:
    # 2024-01-01 is a Monday: Mondays and the 1st of each month
    assert walls(fires("0 0 1 * mon", utc(2024, 1, 1), 6)) == [
        "2024-01-08 00:00:00",
        "2024-01-15 00:00:00",
        "2024-01-22 00:00:00",
        "2024-01-29 00:00:00",
        "2024-02-01 00:00:00",
        "2024-02-05 00:00:00",
    ]


def test_one_day_field_restricted_means_only_that_one() -> None:
    assert {m.day for m in fires("0 0 13 * *", utc(2024, 1, 1), 6)} == {13}
    assert {m.strftime("%a") for m in fires("0 0 * * fri", utc(2024, 1, 1), 6)} == {"Fri"}
    assert [m.day for m in fires("0 0 * * *", utc(2024, 1, 1), 3)] == [2, 3, 4]


def test_a_stepped_star_counts_as_star_as_in_vixie_cron() -> None:
    # '*/2' starts with '*', so the days are ANDed: odd days that are Mondays
    found = fires("0 0 */2 * mon", utc(2024, 1, 1), 4)
    assert all(m.day % 2 == 1 and m.strftime("%a") == "Mon" for m in found)
    assert walls(found)[:2] == ["2024-01-15 00:00:00", "2024-01-29 00:00:00"]


# -- nicknames, seconds, calendar ------------------------------------------------------


@pytest.mark.parametrize(
    ("nickname", "expression"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@HOURLY", "0 * * * *"),
    ],
)
def test_nicknames(nickname: str, expression: str) -> None:
    start = utc(2024, 5, 17, 13, 45)
    assert fires(nickname, start, 3) == fires(expression, start, 3)


def test_six_fields_put_seconds_first() -> None:
    assert walls(fires("*/20 30 * * * *", utc(2024, 1, 1, 0, 30, 20), 4)) == [
        "2024-01-01 00:30:40",
        "2024-01-01 01:30:00",
        "2024-01-01 01:30:20",
        "2024-01-01 01:30:40",
    ]
    assert walls(fires("15 0 0 * * *", utc(2024, 1, 1), 2)) == [
        "2024-01-01 00:00:15",
        "2024-01-02 00:00:15",
    ]


def test_month_ends_are_skipped_when_the_day_is_missing() -> None:
    assert [m.month for m in fires("0 0 31 * *", utc(2024, 1, 1), 6)] == [1, 3, 5, 7, 8, 10]


def test_february_29_fires_only_in_leap_years() -> None:
    assert [m.year for m in fires("0 0 29 2 *", utc(2024, 3, 1), 3)] == [2028, 2032, 2036]
    assert walls(fires("0 0 29 2 *", utc(2096, 3, 1), 1)) == ["2104-02-29 00:00:00"]  # not 2100


def test_a_rare_combination_is_found_quickly() -> None:
    # Feb 29 on a Sunday ('*/7' is Sunday and starts with '*', so the days are ANDed)
    assert [m.year for m in fires("0 0 29 2 */7", utc(2024, 3, 1), 3)] == [2032, 2060, 2088]


def test_next_after_is_strictly_after() -> None:
    cron = Cron("*/5 * * * *")
    assert cron.next_after(utc(2024, 1, 1, 10, 5)) == utc(2024, 1, 1, 10, 10)
    assert cron.next_after(utc(2024, 1, 1, 10, 4, 59, 999999)) == utc(2024, 1, 1, 10, 5)
    assert cron.next_after(utc(2024, 1, 1, 10, 5, 0, 1)) == utc(2024, 1, 1, 10, 10)
    seconds = Cron("* * * * * *")
    assert seconds.next_after(utc(2024, 1, 1, 10, 5, 7)) == utc(2024, 1, 1, 10, 5, 8)
    assert seconds.next_after(utc(2024, 1, 1, 10, 5, 7, 500)) == utc(2024, 1, 1, 10, 5, 8)


def test_results_are_utc_whatever_the_zone_of_when() -> None:
    result = Cron("0 9 * * *", "Europe/Paris").next_after(datetime(2024, 1, 1, tzinfo=NEW_YORK))
    assert result.tzinfo is UTC
    assert result == utc(2024, 1, 1, 8)  # midnight in New York is 06:00 in Paris


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 1, 1)
    with pytest.raises(ValueError, match="aware datetime"):
        Cron("* * * * *").next_after(naive)
    with pytest.raises(ValueError, match="aware datetime"):
        Cron("* * * * *").matches(naive)
    with pytest.raises(ValueError, match="aware datetime"):
        Every(30).next_after(naive)
    with pytest.raises(ValueError, match="start must be an aware"):
        ticks_between(Every(30), naive, utc(2024, 1, 1), 5)
    with pytest.raises(ConfigurationError, match="anchor must be an aware"):
        Every(30, anchor=naive)


def test_matches() -> None:
    five, six = Cron("5 10 * * *"), Cron("30 5 10 * * *")
    assert five.matches(utc(2024, 1, 1, 10, 5, 42, 7))  # five fields: to the minute
    assert not five.matches(utc(2024, 1, 1, 10, 6))
    assert six.matches(utc(2024, 1, 1, 10, 5, 30, 999))  # six fields: to the second
    assert not six.matches(utc(2024, 1, 1, 10, 5, 31))
    paris = Cron("5 10 * * *", "Europe/Paris")
    assert paris.matches(datetime(2024, 1, 1, 10, 5, tzinfo=PARIS))
    assert not paris.matches(utc(2024, 1, 1, 10, 5))


def test_equality_and_repr_leave_the_parsed_fields_out() -> None:
    assert Cron("0 * * * *", "UTC") == Cron("0 * * * *")
    assert hash(Cron("0 * * * *")) == hash(Cron("0 * * * *"))
    assert Cron("0 * * * *") != Cron("0 * * * *", "Europe/Paris")
    assert repr(Cron("0 * * * *")) == "Cron(expression='0 * * * *', tz='UTC', days='either')"
    assert Cron("*/5 * * * *", "Europe/Paris").describe() == "cron '*/5 * * * *' (Europe/Paris)"
    assert Cron("0 * * * *") != Cron("0 * * * *", days="both")


def test_days_both_needs_the_day_of_month_and_of_week_to_match() -> None:
    either = Cron("0 0 1-7 * mon")  # Vixie: the 1st to the 7th, and every Monday
    both = Cron("0 0 1-7 * mon", days="both")  # the first Monday of the month
    start = utc(2026, 12, 2, 12)
    assert either.next_after(start) == utc(2026, 12, 3)
    assert both.next_after(start) == utc(2026, 12, 7)
    assert both.next_after(utc(2026, 12, 7)) == utc(2027, 1, 4)
    assert both.matches(utc(2027, 1, 4)) and not both.matches(utc(2027, 1, 11))
    assert "days: both" in both.describe()
    with pytest.raises(ConfigurationError, match="days must be"):
        Cron("0 0 * * *", days="any")


def test_the_search_stops_at_the_end_of_the_calendar() -> None:
    with pytest.raises(ConfigurationError, match="never fires after 9999-06-01"):
        Cron("0 0 1 1 *").next_after(utc(9999, 6, 1))


# -- daylight saving time --------------------------------------------------------------


def test_paris_spring_forward_skips_the_missing_time() -> None:
    # 2024-03-31: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day
    found = fires("30 2 * * *", datetime(2024, 3, 30, 3, tzinfo=PARIS), 2, "Europe/Paris")
    assert [m.isoformat() for m in found] == [
        "2024-04-01T02:30:00+02:00",
        "2024-04-02T02:30:00+02:00",
    ]
    ticks = ticks_between(
        Cron("*/20 * * * *", "Europe/Paris"), utc(2024, 3, 31), utc(2024, 3, 31, 2), 10
    )
    assert [t.astimezone(PARIS).strftime("%H:%M%z") for t in ticks] == [
        "01:20+0100",
        "01:40+0100",
        "03:00+0200",
        "03:20+0200",
        "03:40+0200",
        "04:00+0200",
    ]


def test_paris_fall_back_fires_once_at_the_first_occurrence() -> None:
    # 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice
    cron = Cron("30 2 * * *", "Europe/Paris")
    first = cron.next_after(datetime(2024, 10, 26, 12, tzinfo=PARIS))
    assert first == utc(2024, 10, 27, 0, 30)  # 02:30 CEST
    assert cron.next_after(first) == utc(2024, 10, 28, 1, 30)  # the next day, not 02:30 CET
    assert cron.matches(first)
    assert not cron.matches(utc(2024, 10, 27, 1, 30))  # the second 02:30
    ticks = ticks_between(
        Cron("*/20 * * * *", "Europe/Paris"), utc(2024, 10, 26, 23, 30), utc(2024, 10, 27, 2), 10
    )
    assert [t.astimezone(PARIS).strftime("%H:%M%z") for t in ticks] == [
        "01:40+0200",
        "02:00+0200",
        "02:20+0200",
        "02:40+0200",
        "03:00+0100",
    ]


def test_from_inside_the_repeated_hour_the_next_tick_is_after_it() -> None:
    second_pass = utc(2024, 10, 27, 1, 15)  # 02:15 CET, the second time round
    assert Cron("*/20 * * * *", "Europe/Paris").next_after(second_pass) == utc(2024, 10, 27, 2)
    assert Cron("* * * * * *", "Europe/Paris").next_after(second_pass) == utc(2024, 10, 27, 2)
    assert Cron("0 3 * * *", "Europe/Paris").next_after(second_pass) == utc(2024, 10, 27, 2)
    first_pass = utc(2024, 10, 27, 0, 15)  # 02:15 CEST
    assert Cron("*/20 * * * *", "Europe/Paris").next_after(first_pass) == utc(2024, 10, 27, 0, 20)


def test_new_york_spring_forward_and_fall_back() -> None:
    # 2024-03-10: 02:00 EST jumps to 03:00 EDT. 2024-11-03: 02:00 EDT falls back to 01:00 EST.
    spring = fires("30 2 * * *", datetime(2024, 3, 9, 12, tzinfo=NEW_YORK), 2, "America/New_York")
    assert [m.isoformat() for m in spring] == [
        "2024-03-11T02:30:00-04:00",
        "2024-03-12T02:30:00-04:00",
    ]
    fall = fires("30 1 * * *", datetime(2024, 11, 2, 12, tzinfo=NEW_YORK), 2, "America/New_York")
    assert [m.isoformat() for m in fall] == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-04T01:30:00-05:00",
    ]
    hourly = ticks_between(
        Cron("0 * * * *", "America/New_York"), utc(2024, 11, 3, 4), utc(2024, 11, 3, 9), 10
    )
    assert [t.astimezone(NEW_YORK).strftime("%H%z") for t in hourly] == [
        "01-0400",
        "02-0500",
        "03-0500",
        "04-0500",
    ]


def test_a_half_hour_clock_change() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on 2024-10-06
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    found = fires(
        "15 2 * * *", datetime(2024, 10, 5, 12, tzinfo=lord_howe), 2, "Australia/Lord_Howe"
    )
    assert [m.isoformat() for m in found] == [
        "2024-10-07T02:15:00+11:00",
        "2024-10-08T02:15:00+11:00",
    ]


# -- unknown and invalid ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        ("61 * * * *", ["minute 61 is out of range 0-59"]),
        ("* 24 * * *", ["hour 24 is out of range 0-23"]),
        ("* * 0 * *", ["day of month 0 is out of range 1-31"]),
        ("* * * 13 *", ["month 13 is out of range 1-12"]),
        ("* * * * 8", ["day of week 8 is out of range 0-7"]),
        ("60 * * * * *", ["second 60 is out of range 0-59"]),
        ("* * * *", ["expected 5 fields", "got 4"]),
        ("* * * * * * *", ["got 7"]),
        ("", ["got 0"]),
        ("*/0 * * * *", ["minute step '0'", "1-59"]),
        ("* */24 * * *", ["hour step '24'", "1-23"]),
        ("*/x * * * *", ["minute step 'x'"]),
        ("1,,2 * * * *", ["minute '1,,2' has an empty list item"]),
        ("* * * * mon,", ["day of week 'mon,' has an empty list item"]),
        ("* * * foo *", ["month 'foo'", "jan-dec"]),
        ("* * * * mon-fir", ["day of week 'fir'", "sun-sat"]),
        ("* * mon * *", ["day of month 'mon' is not a number"]),
        ("-5 * * * *", ["minute '-5' is missing a number"]),
        ("5- * * * *", ["minute '5-' is missing a number"]),
        ("/5 * * * *", ["minute '/5' is missing a number"]),
        ("5/ * * * *", ["minute step ''"]),
        ("1-2-3 * * * *", ["minute '2-3' is not a number"]),
        ("5-3 * * * *", ["minute range '5-3' runs backwards"]),
        ("0 0 30 2 *", ["never fires", "'30'", "'2'"]),
        ("0 0 31 apr,jun *", ["never fires"]),
        ("@reboot", ["unknown nickname '@reboot'"]),
    ],
)
def test_invalid_expressions_name_the_field_and_the_part(
    expression: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Cron(expression)
    message = str(caught.value)
    assert message.startswith(f"invalid cron expression {expression!r}: ")
    for fragment in fragments:
        assert fragment in message


def test_both_restricted_days_can_rescue_an_impossible_date() -> None:
    # Feb 30 never exists, but with a weekday as well it fires on that weekday
    assert {m.strftime("%a") for m in fires("0 0 30 2 mon", utc(2024, 1, 1), 3)} == {"Mon"}


def test_unknown_time_zone() -> None:
    with pytest.raises(ConfigurationError, match="unknown time zone 'Mars/Olympus'"):
        Cron("* * * * *", "Mars/Olympus")
    with pytest.raises(ConfigurationError, match="unknown time zone '/etc/passwd'"):
        Cron("* * * * *", "/etc/passwd")


# -- Every -----------------------------------------------------------------------------


def test_every_is_anchored_so_all_schedulers_agree() -> None:
    every = Every(7)
    a = every.next_after(utc(2024, 1, 1, 0, 0, 3))
    b = every.next_after(utc(2024, 1, 1, 0, 0, 1, 12345))
    assert a == b
    assert (a - utc(1970, 1, 1)) % timedelta(seconds=7) == timedelta(0)
    assert every.next_after(a) == a + timedelta(seconds=7)  # strictly after
    assert a.tzinfo is UTC


def test_every_with_its_own_anchor_in_any_zone() -> None:
    anchor = datetime(2024, 3, 30, 12, tzinfo=PARIS)  # the day before the clocks change
    every = Every(86400, anchor=anchor)
    assert every.next_after(anchor - timedelta(hours=1)) == anchor
    # absolute days, not wall-clock days: after the change the tick is at 13:00 in Paris
    assert every.next_after(anchor).astimezone(PARIS).isoformat() == "2024-03-31T13:00:00+02:00"
    assert every.next_after(anchor - timedelta(days=3)) == anchor - timedelta(days=2)
    assert every.describe() == "every 86400s from 2024-03-30T12:00:00+01:00"


def test_every_takes_fractions_of_a_second() -> None:
    every = Every(0.25)
    assert every.next_after(utc(2024, 1, 1, 0, 0, 0, 300000)) == utc(2024, 1, 1, 0, 0, 0, 500000)
    assert every.describe() == "every 0.25s"
    assert Every(30).describe() == "every 30s"


def test_every_does_not_drift() -> None:
    every = Every(0.1)
    far = utc(1970, 1, 1) + timedelta(seconds=100_000)  # one million ticks of 0.1s
    assert every.next_after(far - timedelta(microseconds=1)) == far
    assert every.next_after(far) == far + timedelta(microseconds=100_000)


@pytest.mark.parametrize("seconds", [0, -1, 0.0000001, float("nan"), float("inf")])
def test_every_refuses_intervals_that_cannot_work(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="interval"):
        Every(seconds)


# -- parse_schedule and ticks_between ---------------------------------------------------


def test_parse_schedule_for_each_kind() -> None:
    assert parse_schedule("*/5 * * * *") == Cron("*/5 * * * *")
    assert parse_schedule("0 */5 * * * *", tz="Europe/Paris") == Cron(
        "0 */5 * * * *", "Europe/Paris"
    )
    assert parse_schedule("@daily") == Cron("@daily")
    assert parse_schedule(30) == Every(30)
    assert parse_schedule(0.5) == Every(0.5)
    assert parse_schedule(timedelta(minutes=2)) == Every(120)
    every = Every(5)
    assert parse_schedule(every) is every
    assert isinstance(parse_schedule("* * * * *"), Schedule)


class Weekly:
    """A schedule written by a user: only the protocol's two methods."""

    def next_after(self, when: datetime) -> datetime:
        return Every(7 * 86400).next_after(when)

    def describe(self) -> str:
        return "weekly"


def test_any_object_with_the_protocol_is_a_schedule() -> None:
    weekly = Weekly()
    assert parse_schedule(weekly) is weekly
    assert ticks_between(weekly, utc(2024, 1, 1), utc(2024, 1, 31), 9) == [
        utc(2024, 1, 4),  # the epoch was a Thursday
        utc(2024, 1, 11),
        utc(2024, 1, 18),
        utc(2024, 1, 25),
    ]


@pytest.mark.parametrize("spec", [True, None, [1, 2], b"* * * * *"])
def test_parse_schedule_refuses_other_things(spec: object) -> None:
    with pytest.raises(ConfigurationError, match="cannot make a schedule"):
        parse_schedule(spec)  # type: ignore[arg-type]


def test_parse_schedule_passes_bad_strings_to_cron() -> None:
    with pytest.raises(ConfigurationError, match="expected 5 fields"):
        parse_schedule("30")


def test_ticks_between_is_in_order_and_bounded_by_both_ends() -> None:
    ticks = ticks_between(Cron("*/15 * * * *"), utc(2024, 1, 1, 10), utc(2024, 1, 1, 11), 100)
    assert ticks == [utc(2024, 1, 1, 10, m) for m in (15, 30, 45)] + [utc(2024, 1, 1, 11)]


def test_ticks_between_keeps_the_most_recent() -> None:
    ticks = ticks_between(Cron("* * * * *"), utc(2024, 1, 1), utc(2024, 2, 1), 3)
    assert ticks == [utc(2024, 1, 31, 23, 58), utc(2024, 1, 31, 23, 59), utc(2024, 2, 1)]
    assert ticks_between(Every(0.001), utc(2024, 1, 1), utc(2024, 1, 2), 1) == [utc(2024, 1, 2)]
    yearly = ticks_between(Cron("@yearly"), utc(1990, 6, 1), utc(2024, 6, 1), 2)
    assert yearly == [utc(2023, 1, 1), utc(2024, 1, 1)]


def test_ticks_between_can_be_empty() -> None:
    assert ticks_between(Cron("0 0 * * *"), utc(2024, 1, 1, 1), utc(2024, 1, 1, 23), 5) == []
    assert ticks_between(Cron("* * * * *"), utc(2024, 1, 1), utc(2024, 1, 1), 5) == []
    assert ticks_between(Cron("* * * * *"), utc(2024, 1, 2), utc(2024, 1, 1), 5) == []
    assert ticks_between(Cron("* * * * *"), utc(2024, 1, 1), utc(2024, 1, 2), 0) == []
    with pytest.raises(ValueError, match="limit"):
        ticks_between(Cron("* * * * *"), utc(2024, 1, 1), utc(2024, 1, 2), -1)


# -- a property: next_after finds the first matching time ------------------------------

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
# the 2024 clock changes (spring, fall), so that random starts often straddle one
CHANGES = {
    "Europe/Paris": [utc(2024, 3, 31, 1), utc(2024, 10, 27, 1)],
    "America/New_York": [utc(2024, 3, 10, 7), utc(2024, 11, 3, 6)],
    "Australia/Lord_Howe": [utc(2024, 10, 5, 15, 30), utc(2024, 4, 6, 15)],
}


def random_item(rng: random.Random, low: int, high: int, names: list[str]) -> str:
    def value() -> str:
        number = rng.randint(low, high)
        return names[number - low] if names and rng.random() < 0.3 else str(number)

    a, b = sorted(rng.sample(range(low, high + 1), 2))
    choices = [
        "*",
        value(),
        f"{a}-{b}",
        f"*/{rng.randint(1, high)}",
        f"{a}-{b}/{rng.randint(1, max(1, b - a))}",
        f"{value()}/{rng.randint(1, high)}",
    ]
    return rng.choice(choices)


def random_field(rng: random.Random, low: int, high: int, names: list[str] | None = None) -> str:
    if rng.random() < 0.4:
        return "*"
    return ",".join(random_item(rng, low, high, names or []) for _ in range(rng.randint(1, 3)))


def random_cron(rng: random.Random) -> Cron:
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    while True:
        fields = [
            random_field(rng, 0, 59),
            random_field(rng, 0, 23),
            random_field(rng, 1, 31),
            random_field(rng, 1, 12, months),
            random_field(rng, 0, 7, ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        ]
        if rng.random() < 0.25:
            fields.insert(0, random_field(rng, 0, 59))
        try:
            return Cron(" ".join(fields), rng.choice(ZONES))
        except ConfigurationError as exc:  # e.g. '0 0 31 feb *'; anything else is a bug
            if "never fires" not in str(exc):
                raise


def random_start(rng: random.Random, tz: str) -> datetime:
    if tz in CHANGES and rng.random() < 0.6:
        base = rng.choice(CHANGES[tz]) + timedelta(hours=rng.uniform(-6, 2))
    else:
        base = utc(2020, 1, 1) + timedelta(days=rng.uniform(0, 3650))
    return base if rng.random() < 0.5 else base.replace(microsecond=0)


def assert_first_match(cron: Cron, start: datetime) -> None:
    """next_after(start) is after start, matches, and (when near) nothing between does."""
    found = cron.next_after(start)
    assert found > start, cron
    assert cron.matches(found), (cron, start, found)
    six = len(cron.expression.split()) == 6
    step = timedelta(seconds=1) if six else timedelta(minutes=1)
    if found - start > (timedelta(hours=1) if six else timedelta(days=3)):
        return
    probe = utc(1970, 1, 1) + (start - utc(1970, 1, 1)) // step * step + step
    while probe < found:
        assert not cron.matches(probe), (cron, start, probe, found)
        probe += step


def test_next_after_is_the_first_matching_time_after_a_random_start() -> None:
    rng = random.Random(20240331)
    for _ in range(200):
        cron = random_cron(rng)
        assert_first_match(cron, random_start(rng, cron.tz))


def test_next_after_across_clock_changes() -> None:
    rng = random.Random(20241027)
    for _ in range(200):
        minute = random_field(rng, 0, 59)
        hour = rng.choice(["*", "0-4", "1,2,3", "*/2", "2", "1-3/2"])
        second = rng.choice(["", f"{random_field(rng, 0, 59)} "])
        tz = rng.choice(list(CHANGES))
        start = rng.choice(CHANGES[tz]) + timedelta(minutes=rng.uniform(-120, 90))
        assert_first_match(Cron(f"{second}{minute} {hour} * * *", tz), start)
