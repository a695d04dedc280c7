"""Periodic entries: checking, storing, tick ids and which ticks the policies send."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from celeriac.core import Codec, ConfigurationError, DecodeError, SignatureError
from celeriac.core.cron import Cron, Every, Periodic, plan, tick_id, ticks_between
from celeriac.core.cron.entry import from_ms, to_ms
from celeriac.core.options import SendOptions
from celeriac.core.signing import make_signer

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
EVERY_MINUTE = Cron("* * * * *")


def entry(**changes: object) -> Periodic:
    fields: dict[str, object] = {"task": "jobs.report", "schedule": EVERY_MINUTE, **changes}
    return Periodic(**fields)  # type: ignore[arg-type]


class _Sundays:
    """A schedule of the user's own: fine in code, cannot be stored."""

    def next_after(self, when: datetime) -> datetime:
        return when + timedelta(days=7)

    def describe(self) -> str:
        return "sundays"


# -- checking ------------------------------------------------------------------------


def test_the_name_defaults_to_the_task() -> None:
    assert entry().name == "jobs.report"
    assert entry(name="nightly").name == "nightly"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"task": ""}, "needs the name of the task"),
        ({"schedule": "* * * * *"}, "is not a schedule"),
        ({"missed": "sometimes"}, "missed must be one of"),
        ({"grace": -1}, "grace must be seconds"),
        ({"options": {"colour": "red"}}, "unknown send option(s) colour"),
        ({"options": {"delay": 5}}, "each tick sets these itself"),
        ({"options": {"unique": "maybe"}}, "unique must be"),
    ],
)
def test_bad_entries_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigurationError, match=words.replace("(", r"\(").replace(")", r"\)")):
        entry(**changes)


# -- storing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        Cron("0 9 * * mon-fri", "Europe/Paris"),
        Cron("0 0 1-7 * mon", "UTC", days="both"),
        Every(0.25),
        Every(3600, datetime(2026, 3, 1, 12, 0, 0, 123457, tzinfo=UTC)),
    ],
)
def test_round_trip(schedule: Cron | Every) -> None:
    original = entry(
        schedule=schedule,
        args=(1, "two"),
        kwargs={"three": [3]},
        options={"queue": "reports", "priority": 6},
        name="report",
        missed="all",
        grace=2.5,
    )
    codec = Codec()
    assert Periodic.decode(original.encode(codec), codec) == original


def test_a_schedule_of_ones_own_stays_in_code() -> None:
    with pytest.raises(ConfigurationError, match="declare it in code instead"):
        entry(schedule=_Sundays()).to_dict()


GOOD = {"name": "n", "task": "t", "missed": "once", "schedule": {"every": 1, "anchor_us": 0}}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([], "must be a mapping"),
        ({"task": "t", "missed": "once"}, "'name' must be a non-empty string"),
        ({"name": "n", "task": "t", "missed": "once", "schedule": {}}, "must hold 'cron'"),
        ({"name": "n", "task": "t", "missed": "once", "schedule": {"every": 1}}, "anchor_us"),
        (
            {"name": "n", "task": "t", "missed": "once", "schedule": {"cron": "0 0 30 2 *"}},
            "'tz' must be",
        ),
        (
            {"name": "n", "task": "t", "missed": "x", "schedule": {"every": 1, "anchor_us": 0}},
            "stored periodic entry 'n': missed must be",
        ),
        ({"name": "n", "task": "t", "missed": "once", "args": 5}, "'args' must be a list"),
        ({**GOOD, "kwargs": {1: 2}}, "'kwargs' must be a mapping with string keys"),
        ({**GOOD, "options": []}, "'options' must be a mapping"),
    ],
)
def test_unreadable_stored_entries(raw: object, words: str) -> None:
    with pytest.raises(DecodeError, match=words):
        Periodic.from_dict(raw)


def test_a_stored_entry_must_carry_a_known_signature() -> None:
    ours = Codec(signer=make_signer({"k1": b"s" * 32}))
    theirs = Codec(signer=make_signer({"k9": b"x" * 32}))
    assert Periodic.decode(entry().encode(ours), ours) == entry()
    with pytest.raises(SignatureError):
        Periodic.decode(entry().encode(theirs), ours)
    with pytest.raises(SignatureError, match="unsigned"):
        Periodic.decode(entry().encode(Codec()), ours)


# -- ticks -----------------------------------------------------------------------------


def test_a_tick_has_one_id_everywhere() -> None:
    tick = T0 + timedelta(minutes=5)
    assert tick_id("a", tick) == tick_id("a", tick.astimezone(timezone(timedelta(hours=2))))
    assert len({tick_id("a", tick), tick_id("b", tick), tick_id("a", T0)}) == 3


def test_milliseconds_are_exact() -> None:
    moment = datetime(2026, 5, 17, 3, 4, 5, 678000, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment
    assert to_ms(moment) == 1778987045678


def test_the_message_of_a_tick() -> None:
    tick = T0 + timedelta(minutes=1)
    periodic = entry(args=(1,), kwargs={"k": 2}, options={"priority": 9, "headers": {"h": 1}})
    options = periodic.send_options(SendOptions(queue="reports", timeout=30))
    message = periodic.message(tick, options, "default")
    assert message.id == tick_id("jobs.report", tick)
    assert (message.name, message.args, message.kwargs) == ("jobs.report", (1,), {"k": 2})
    assert (message.queue, message.priority, message.timeout) == ("reports", 9, 30)
    assert message.eta is None
    periodic_header = {"entry": "jobs.report", "tick": tick.timestamp()}
    assert message.headers == {"h": 1, "periodic": periodic_header}


# -- which ticks are sent ----------------------------------------------------------------


def minutes(*offsets: int) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(minutes=m) for m in offsets)


@pytest.mark.parametrize("missed", ["once", "skip", "all"])
def test_ticks_within_the_grace_are_sent_whatever_the_policy(missed: str) -> None:
    now = T0 + timedelta(minutes=3, seconds=10)
    result = plan(entry(missed=missed, grace=300), T0, now)
    assert (result.fire, result.advance, result.dropped) == (minutes(1, 2, 3), None, 0)


def test_the_default_policy_sends_one_late_tick_for_all() -> None:
    now = T0 + timedelta(minutes=3, seconds=10)  # 1 and 2 are more than 30 s late
    result = plan(entry(), T0, now)
    assert (result.fire, result.dropped) == (minutes(2, 3), 1)


@pytest.mark.parametrize(
    ("missed", "fire", "advance", "dropped"),
    [
        ("all", minutes(1, 2, 3, 4, 5), None, 0),
        ("once", minutes(3, 4, 5), None, 2),
        ("skip", minutes(4, 5), None, 3),
    ],
)
def test_missed_tick_policies(
    missed: str, fire: tuple[datetime, ...], advance: datetime | None, dropped: int
) -> None:
    now = T0 + timedelta(minutes=5, seconds=30)  # ticks 1-3 are late with a 90 s grace
    result = plan(entry(missed=missed, grace=90), T0, now)
    assert (result.fire, result.advance, result.dropped, result.more) == (
        fire,
        advance,
        dropped,
        False,
    )


def test_skip_moves_the_state_when_nothing_is_on_time() -> None:
    now = T0 + timedelta(minutes=5, seconds=50)
    result = plan(entry(missed="skip", grace=10), T0, now)
    assert result.fire == ()
    assert result.advance == T0 + timedelta(minutes=5)
    assert result.dropped == 5


def test_nothing_due() -> None:
    assert plan(entry(missed="skip"), T0, T0 + timedelta(seconds=59)) == plan(
        entry(), T0, T0 + timedelta(seconds=30)
    )
    assert plan(entry(), T0, T0).fire == ()


def test_catching_up_is_bounded() -> None:
    now = T0 + timedelta(days=30)
    result = plan(entry(missed="all", grace=0), T0, now, limit=100)
    assert result.more
    assert len(result.fire) == 100
    assert result.fire[-1] == now
    once = plan(entry(missed="once", grace=0), T0, now, limit=100)
    assert once.fire == (now - timedelta(minutes=1), now)  # now itself is not late
    assert once.more


def test_plans_follow_the_schedule() -> None:
    schedule = Cron("*/15 * * * *", "America/New_York")
    now = T0 + timedelta(hours=2)
    result = plan(entry(schedule=schedule, missed="all"), T0, now)
    assert result.fire == tuple(ticks_between(schedule, T0, now, 1000))
    assert len(result.fire) == 8
