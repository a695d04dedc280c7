"""The scheduler on every broker: each tick sent once however many schedulers run, a
restart neither skips nor doubles a tick, missed-tick policies, entries added and
removed at run time, and the scheduler inside workers."""

from __future__ import annotations

import itertools
import logging
from datetime import datetime, timedelta

import anyio
import pytest

from celeriac.core import (
    App,
    Codec,
    Every,
    Periodic,
    RedisBroker,
    Scheduler,
    current_task,
)
from celeriac.core.broker import Outgoing, Tick
from celeriac.core.cron import tick_id, ticks_between
from celeriac.core.cron.entry import from_ms
from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
from tests.core.worker.helpers import running_worker
from tests.redis_server import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, bool]]:
    """asyncio alone: scheduling is the same on uvloop (the broker contract runs on both),
    and these tests wait out real ticks."""
    return ("asyncio", {"use_uvloop": False})


TENTH = Every(0.1)


async def sent_ticks(app: App, queue: str | None = None) -> list[datetime]:
    """The ticks of the periodic messages waiting in a queue, in order."""
    queued = await app.list_tasks("queued", queue, limit=1000)
    found = []
    for info in queued:
        assert info.message is not None
        header = info.message.headers["periodic"]
        assert info.id == tick_id(header["entry"], from_ms(round(header["tick"] * 1000)))
        found.append(from_ms(round(header["tick"] * 1000)))
    return found


def consecutive(ticks: list[datetime], step: timedelta = timedelta(milliseconds=100)) -> bool:
    return all(b - a == step for a, b in itertools.pairwise(ticks))


async def state_of(app: App, name: str, queue: str | None = None) -> datetime:
    _, (last,) = await app.broker.periodic.state([(queue or app.default_queue, name)])
    return from_ms(last)


async def run_for(seconds: float, *schedulers: Scheduler) -> None:
    with anyio.move_on_after(seconds):
        async with anyio.create_task_group() as tg:
            for scheduler in schedulers:
                tg.start_soon(scheduler.run)


async def test_each_tick_is_sent_once_by_many_schedulers(app: App) -> None:
    app.add_periodic(Periodic("jobs.beep", TENTH))
    others = [App(app.broker, main="tests") for _ in range(2)]
    for other in others:
        other.add_periodic(Periodic("jobs.beep", TENTH))
    schedulers = [Scheduler(a, max_interval=0.05) for a in (app, *others)]
    start = await state_of(app, "jobs.beep")
    await run_for(1.2, *schedulers)
    ticks = await sent_ticks(app)
    assert len(ticks) >= 6
    assert len(set(ticks)) == len(ticks)  # none twice
    assert ticks[0] == TENTH.next_after(start)  # the first tick after the entry started
    assert consecutive(ticks)  # none skipped
    # (a scheduler cancelled while its last send was on the wire did not count it)
    assert len(ticks) - 3 <= sum(s.sent for s in schedulers) <= len(ticks)
    assert ticks[-1] == await state_of(app, "jobs.beep")


async def test_a_restart_neither_skips_nor_doubles(app: App) -> None:
    entry = Periodic("jobs.beep", TENTH, grace=5)
    app.add_periodic(entry)
    await run_for(0.5, Scheduler(app, max_interval=0.05))
    first = await sent_ticks(app)
    await anyio.sleep(0.35)  # down for a few ticks: less than the grace
    restarted = App(app.broker, main="tests")
    restarted.add_periodic(entry)
    await run_for(0.5, Scheduler(restarted, max_interval=0.05))
    ticks = await sent_ticks(app)
    assert ticks[: len(first)] == first
    assert len(ticks) >= len(first) + 6
    assert consecutive(ticks)


@pytest.mark.parametrize("missed", ["all", "once", "skip"])
async def test_ticks_missed_while_every_scheduler_was_down(
    app: App, missed: str, caplog: pytest.LogCaptureFixture
) -> None:
    app.add_periodic(Periodic("jobs.beep", TENTH, missed=missed, grace=0))
    start = await state_of(app, "jobs.beep")  # the entry is known from here on
    await anyio.sleep(0.65)
    with caplog.at_level(logging.WARNING, "celeriac.beat"):
        await Scheduler(app).run_once()
    last = await state_of(app, "jobs.beep")
    missed_ticks = ticks_between(TENTH, start, last, 1000)
    assert len(missed_ticks) >= 6
    assert last == missed_ticks[-1]  # the state moved on whatever the policy
    sent = await sent_ticks(app)
    # (with no grace, a tick that falls on the clock's very millisecond is on time)
    allowed = {
        "all": [missed_ticks],
        "once": [missed_ticks[-1:], missed_ticks[-2:]],
        "skip": [[], missed_ticks[-1:]],
    }[missed]
    assert sent in allowed
    if missed != "all":
        assert f"missed {len(missed_ticks) - len(sent)} tick(s)" in caplog.text


async def test_entries_added_and_removed_at_run_time(app: App) -> None:
    other = App(app.broker, main="tests")  # another process's view of the same broker
    entry = Periodic("jobs.beep", TENTH, name="beeper", options={"queue": "beeps"})
    await app.store_periodic(entry)
    assert (await other.periodic_entries())["beeper"] == entry
    await run_for(0.45, Scheduler(other, max_interval=0.05))
    ticks = await sent_ticks(app, "beeps")
    assert len(ticks) >= 2
    assert consecutive(ticks)
    assert await app.remove_periodic("beeper")
    assert not await app.remove_periodic("beeper")
    assert await other.periodic_entries() == {}
    await run_for(0.35, Scheduler(other, max_interval=0.05))
    assert await sent_ticks(app, "beeps") == ticks


async def test_a_stored_entry_overrides_code_and_starts_afresh(app: App) -> None:
    app.add_periodic(Periodic("jobs.slow", Every(3600), name="job"))
    await Scheduler(app).run_once()
    before = await state_of(app, "job")
    await anyio.sleep(0.25)
    faster = Periodic("jobs.fast", TENTH, name="job", missed="all", grace=0)
    await app.store_periodic(faster)
    assert (await app.periodic_entries())["job"] == faster
    restarted = await state_of(app, "job")
    assert restarted >= before + timedelta(milliseconds=200)  # not counted from before
    await anyio.sleep(0.25)
    await Scheduler(app).run_once()
    ticks = await sent_ticks(app)
    assert 1 <= len(ticks) <= 4
    assert all(tick > restarted for tick in ticks)
    assert await app.remove_periodic("job")
    assert (await app.periodic_entries())["job"].task == "jobs.slow"  # code's again


async def test_a_stored_entry_without_our_signature_is_never_sent(
    caplog: pytest.LogCaptureFixture, app: App
) -> None:
    signed = App(app.broker, main="tests", signing_keys={"k1": b"k" * 32})
    forged = Periodic("jobs.transfer", TENTH, grace=0, missed="all").encode(Codec())
    await app.broker.periodic.put("forged", forged, app.default_queue)
    await anyio.sleep(0.25)
    scheduler = Scheduler(signed)
    with caplog.at_level(logging.WARNING, "celeriac.beat"):
        await scheduler.run_once()
        await scheduler.run_once()  # warned once, not at every pass
    assert await sent_ticks(app) == []
    assert caplog.text.count("Skipping stored periodic entry 'forged'") == 1
    assert "unsigned message refused" in caplog.text


async def test_a_unique_entry_waits_for_its_running_instance(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.add_periodic(Periodic("jobs.beep", TENTH, grace=5, options={"unique": True}))
    with caplog.at_level(logging.INFO, "celeriac.beat"):
        await run_for(1.05, Scheduler(app, max_interval=0.05))  # ~10 ticks: slack
    ticks = await sent_ticks(app)
    assert len(ticks) == 1  # the first is still queued: the others are not sent
    assert "unique, and" in caplog.text
    last = await state_of(app, "jobs.beep")
    assert last >= ticks[0] + timedelta(milliseconds=300)  # and not tried again later


async def test_a_tick_sent_already_is_refused(app: App) -> None:
    """The guard itself: two sends of one tick, and a tick older than the state."""
    at = 4_000_000_000_000  # in 2096
    message = Outgoing("id-1", "default", 0, b"x", name="jobs.beep")
    tick = Tick("e", "default", at, message)
    assert await app.broker.periodic.fire([tick]) == [None]
    assert await app.broker.periodic.fire([tick]) == ["fired"]  # another scheduler's try
    again = Tick("e", "default", at, Outgoing("id-2", "default", 0, b"x"))
    assert await app.broker.periodic.fire([again, again]) == ["fired", "fired"]
    older = Tick("e", "default", at - 1, Outgoing("id-0", "default", 0, b"x"))
    assert await app.broker.periodic.fire([older]) == ["fired"]
    assert (await app.broker.stats("default")).ready == 1
    assert await app.broker.periodic.fire([Tick("e", "default", at + 5)]) == [None]
    assert await state_of(app, "e") == from_ms(at + 5)
    await app.broker.periodic.forget("default", "e")
    now = await state_of(app, "e")  # forgotten: starts again from the clock's now
    assert now < from_ms(at)


async def test_workers_with_beat_run_each_tick_once(app: App) -> None:
    ran: list[float] = []

    @app.periodic(0.1, name="beat-test", grace=5)
    async def beep() -> None:
        ran.append(current_task().headers["periodic"]["tick"])

    async with running_worker(app, beat=True), running_worker(app, beat=True):
        with anyio.move_on_after(10):
            while len(ran) < 5:
                await anyio.sleep(0.05)
    assert len(ran) >= 5
    assert len(set(ran)) == len(ran)
    ordered = sorted(ran)
    assert all(round(b - a, 3) == 0.1 for a, b in itertools.pairwise(ordered))


async def test_the_decorator_registers_the_task_and_its_entry(app: App) -> None:
    @app.periodic("*/5 * * * *", tz="Europe/Paris", args=(1,), queue="reports")
    @app.task(priority=3)
    def report(n: int) -> int:
        return n

    entry = (await app.periodic_entries())[report.name]
    assert (entry.task, entry.args, entry.options) == (report.name, (1,), {"queue": "reports"})
    assert entry.schedule.describe() == "cron '*/5 * * * *' (Europe/Paris)"
    assert app.get_task(report.name) is report

    @app.periodic(timedelta(minutes=1), name="plain")
    async def plain() -> None: ...

    assert (await app.periodic_entries())["plain"].task == plain.name


async def test_broker_trouble_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    broker = RedisBroker(
        f"redis://127.0.0.1:{free_port()}/0",
        client_options={"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    )
    app = App(broker)
    app.add_periodic(Periodic("jobs.beep", TENTH))
    with caplog.at_level(logging.INFO, "celeriac.beat"):
        await run_for(1.5, Scheduler(app))
    await app.aclose()
    assert caplog.text.count("beat: Broker error") == 1
    assert "cannot reach Redis" in caplog.text
    assert "Starting" in caplog.text
