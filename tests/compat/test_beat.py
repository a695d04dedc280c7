"""``beat_schedule`` on the core scheduler: Celery's crontab read as Celery reads it,
entries planned as apply_async plans them, and ``worker -B`` sending each tick once."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import anyio
import pytest
from celery.schedules import crontab as real_crontab

from celeriac.compat.app import Celery
from celeriac.compat.beat import install_beat_schedule, periodic_entries
from celeriac.compat.config import CeleriacConfigWarning
from celeriac.compat.worker import WorkerOptions, make_worker
from celeriac.core.cron import Cron, Every, Periodic, Solar
from celeriac.core.runtime import run
from celeriac.exceptions import ImproperlyConfigured
from celeriac.schedules import crontab, schedule, solar
from tests.compat.conftest import make_app

UTC = dt.timezone.utc
CRONTABS: list[dict[str, Any]] = [
    {"minute": 0, "hour": 0, "day_of_week": "mon", "day_of_month": "1-7"},  # first Monday
    {"minute": "*/15"},
    {"minute": 30, "hour": "9-17", "day_of_week": "mon-fri"},
    {"minute": 0, "hour": 0, "day_of_month": 1, "month_of_year": "*/3"},
    {"minute": 0, "hour": 12, "day_of_week": "sun"},
    {"minute": 5, "hour": 4, "day_of_month": "13", "day_of_week": "fri"},  # Friday the 13th
]


def _celerys_next_times(fields: dict[str, Any], start: dt.datetime, count: int) -> list[Any]:
    times, now = [], start
    for _ in range(count):
        tab = real_crontab(**fields, nowfun=lambda now=now: now)
        now = now + tab.remaining_estimate(now)
        times.append(now)
        now = now + dt.timedelta(seconds=1)
    return times


@pytest.mark.parametrize("fields", CRONTABS, ids=lambda f: repr(crontab(**f)))
def test_a_crontab_fires_when_celerys_does(prefix: str, fields: dict[str, Any]) -> None:
    app = make_app(
        "memory://", prefix, beat_schedule={"e": {"task": "t", "schedule": crontab(**fields)}}
    )
    (entry,) = periodic_entries(app)
    assert isinstance(entry.schedule, Cron) and entry.schedule.days == "both"
    start = dt.datetime(2026, 12, 2, 12, 0, 30, tzinfo=UTC)
    ours, when = [], start
    for _ in range(6):
        when = entry.schedule.next_after(when)
        ours.append(when)
    theirs = [
        t.astimezone(UTC).replace(second=0, microsecond=0)
        for t in _celerys_next_times(fields, start, 6)
    ]
    assert ours == theirs


def test_entries_are_planned_as_apply_async_plans_them(prefix: str) -> None:
    app = make_app(
        "memory://",
        prefix,
        timezone="Europe/Paris",
        task_routes={"proj.report": {"queue": "reports"}},
        beat_schedule={
            "nightly": {
                "task": "proj.report",
                "schedule": crontab(minute=0, hour=3),
                "args": (1,),
                "kwargs": {"full": True},
                "options": {"expires": 30, "priority": 0},
            },
            "often": {"task": "proj.ping", "schedule": dt.timedelta(seconds=10)},
            "plain": {"task": "proj.ping", "schedule": 2.5, "options": {"queue": "other"}},
            "every": {"task": "proj.ping", "schedule": schedule(run_every=60)},
        },
    )
    entries = {e.name: e for e in periodic_entries(app)}
    nightly = entries["nightly"]
    assert (nightly.task, nightly.args, nightly.kwargs) == ("proj.report", (1,), {"full": True})
    assert nightly.schedule == Cron("0 3 * * *", "Europe/Paris", days="both")
    assert nightly.options["queue"] == "reports"  # task_routes, as apply_async
    assert nightly.options["expires"] == 30  # from each tick
    assert nightly.options["priority"] == 9  # Celery's 0 is served first
    assert entries["often"].schedule == Every(10.0)
    assert entries["plain"].options["queue"] == "other"
    assert entries["every"].schedule == Every(60.0)


def test_bad_entries_are_named(prefix: str) -> None:
    bad = [
        ({"x": {"task": "t"}}, "must be a dict with 'task' and 'schedule'"),
        ({"x": {"task": "t", "schedule": "soon"}}, "'soon' is not a schedule"),
    ]
    for beat_schedule, message in bad:
        app = make_app("memory://", prefix)
        app.conf.beat_schedule = beat_schedule
        with pytest.raises(ImproperlyConfigured, match=message):
            periodic_entries(app)
    app = make_app("memory://", prefix)
    app.conf.beat_schedule = {"x": {"task": "t", "schedule": 5, "priority": 1}}
    with pytest.warns(CeleriacConfigWarning, match="unknown key"):
        periodic_entries(app)


def test_worker_with_beat_sends_each_tick_once(redis_url: str, prefix: str) -> None:
    app = make_app(
        redis_url, prefix, beat_schedule={"beep": {"task": "tests.beep", "schedule": 0.2}}
    )
    ticks: list[Any] = []

    @app.task(name="tests.beep", bind=True)
    def beep(self: Any) -> None:
        ticks.append(self.request.id)

    workers = [make_worker(app, WorkerOptions(pool="threads", beat=True)) for _ in range(2)]
    assert len(app.core.periodic_declared) == 1

    async def go() -> None:
        try:
            async with anyio.create_task_group() as tg:
                for worker in workers:
                    tg.start_soon(worker.run)
                with anyio.move_on_after(15):
                    while len(ticks) < 5:
                        await anyio.sleep(0.05)
                for worker in workers:
                    worker.stop()
        finally:
            await app.core.aclose()

    run(functools.partial(go), uvloop=False)
    app.close()
    assert len(ticks) >= 5
    assert len(set(ticks)) == len(ticks)  # two schedulers, each tick sent once


def test_install_declares_the_entries_on_the_core(prefix: str) -> None:
    app: Celery = make_app("memory://", prefix, beat_schedule={"e": {"task": "t", "schedule": 60}})
    (entry,) = install_beat_schedule(app)
    assert app.core.periodic_declared == {"e": entry}
    app.close()


def test_a_solar_entry_runs_on_the_core_solar_schedule(redis_url: str, prefix: str) -> None:
    dusk = solar("dusk_civil", 51.5, -0.12)
    app: Celery = make_app(
        redis_url, prefix, beat_schedule={"dusk": {"task": "t", "schedule": dusk}}
    )
    (entry,) = install_beat_schedule(app)
    assert entry.schedule == Solar("dusk_civil", 51.5, -0.12)

    async def stored_and_read_back() -> Periodic:
        async with app.core:
            await app.core.store_periodic(entry)
            return (await app.core.periodic_entries())["dusk"]

    assert run(stored_and_read_back) == entry
    app.close()
