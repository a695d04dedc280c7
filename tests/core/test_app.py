"""The App: registry, options, direct calls, the sync producer; logging and runtime."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time

import pytest

from celeriac.core import (
    App,
    ConfigurationError,
    MemoryBroker,
    NotRegistered,
    Worker,
    run,
    setup_logging,
)
from celeriac.core.logs import LOG_FORMAT


def test_task_names_and_direct_calls() -> None:
    app = App(MemoryBroker(), main="proj")

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="custom.name", queue="q")
    async def other() -> None:
        pass

    assert add.name == f"{__name__}.add"
    assert add(2, 3) == 5  # a plain call runs here and now
    assert other.name == "custom.name" and other.is_async
    assert repr(other) == "<async task custom.name>" and repr(add) == f"<task {add.name}>"
    assert app.get_task("custom.name") is other


def test_tasks_defined_in_main_are_named_after_the_app() -> None:
    app = App(MemoryBroker(), main="proj")

    def fn() -> None:
        pass

    fn.__module__ = "__main__"
    assert app.task(fn).name == "proj.fn"


def test_one_name_one_function() -> None:
    app = App(MemoryBroker())

    def a() -> None:
        pass

    def b() -> None:
        pass

    app.task(name="same")(a)
    app.task(name="same")(a)  # the same function again is fine (re-import)
    with pytest.raises(ConfigurationError, match="already registered"):
        app.task(name="same")(b)


def test_unknown_task_name_says_what_to_do() -> None:
    with pytest.raises(NotRegistered, match="is the module that defines it imported"):
        App(MemoryBroker()).get_task("nope")


def test_options_build_the_message() -> None:
    app = App(MemoryBroker(), default_queue="main")

    @app.task(priority=3, max_retries=7)
    def t(x: int) -> None:
        pass

    before = time.time()
    m = t.options(delay=10, expires=60, headers={"h": 1}, task_id="fixed").message(1)
    assert (m.id, m.root_id, m.queue, m.priority, m.max_retries) == ("fixed", "fixed", "main", 3, 7)
    assert m.eta is not None and before + 10 <= m.eta <= time.time() + 10
    assert m.expires is not None and before + 60 <= m.expires <= time.time() + 60
    assert m.headers == {"h": 1} and m.args == (1,)


def test_eta_and_expires_as_datetimes() -> None:
    app = App(MemoryBroker())

    @app.task
    def t() -> None:
        pass

    naive = dt.datetime(2030, 1, 1, 12, 0)  # naive means UTC
    aware = dt.datetime(2030, 1, 1, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    m = t.options(eta=naive, expires=aware).message()
    assert m.eta == m.expires == dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"delay": 1, "eta": 2.0}, "either delay or eta"),
        ({"eta": "tomorrow"}, "seconds or a datetime"),
        ({"queue": "a{b}"}, "invalid queue name"),
    ],
)
def test_bad_options_are_clear_errors(options: dict[str, object], match: str) -> None:
    app = App(MemoryBroker())

    @app.task
    def t() -> None:
        pass

    with pytest.raises(ConfigurationError, match=match):
        t.options(**options).message()


def test_unknown_option_names_the_known_ones() -> None:
    app = App(MemoryBroker())
    with pytest.raises(ConfigurationError, match=r"unknown option.*retries_max.*known options"):
        app.task(retries_max=3)


def test_bad_app_configuration() -> None:
    with pytest.raises(ConfigurationError, match="unsupported broker URL 'amqp"):
        App("amqp://guest@localhost//")
    with pytest.raises(ConfigurationError, match="unknown serializer 'yaml'"):
        App(MemoryBroker(), serializer="yaml")
    with pytest.raises(ConfigurationError, match="at least 16"):
        App(MemoryBroker(), signing_keys="short")
    with pytest.raises(ConfigurationError, match="concurrency must be at least 1"):
        Worker(App(MemoryBroker()), concurrency=0)


def test_sync_producer_is_thread_safe() -> None:
    app = App(MemoryBroker())

    @app.task
    async def square(x: int) -> int:
        return x * x

    handles: list[object] = []
    lock = threading.Lock()

    def produce(start: int) -> None:
        for x in range(start, start + 50):
            handle = square.enqueue_sync(x)
            with lock:
                handles.append(handle)

    threads = [threading.Thread(target=produce, args=(n * 50,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    batch = app.enqueue_many_sync([square.message(x) for x in range(400, 410)])

    run(functools.partial(Worker(app).run, burst=True))
    results = {h.result(timeout=1) for h in [*handles, *batch]}  # type: ignore[attr-defined]
    assert results == {x * x for x in range(410)}
    assert app.sync_handle(batch[0].id).state() == "SUCCESS"


def test_handles_compare_by_id() -> None:
    app = App(MemoryBroker())
    assert app.handle("a") == app.handle("a") != app.handle("b")
    assert len({app.handle("a"), app.handle("a")}) == 1
    assert repr(app.handle("a")) == "<Handle a>"


@pytest.mark.parametrize("uvloop", [False, True])
def test_run_uses_uvloop_when_asked(uvloop: bool) -> None:
    async def loop_class() -> str:
        import asyncio

        return type(asyncio.get_running_loop()).__module__

    assert run(loop_class, uvloop=uvloop).startswith("uvloop") is uvloop


def test_setup_logging_uses_celery_format(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("celeriac")
    before = list(logger.handlers)
    try:
        setup_logging("info")
        setup_logging(logging.INFO)  # once per process: no second handler
        added = [h for h in logger.handlers if h not in before]
        assert len(added) == 1
        assert added[0].formatter is not None and added[0].formatter._fmt == LOG_FORMAT
        logging.getLogger("celeriac.worker").info("hello")
        assert "INFO/MainProcess] hello" in capsys.readouterr().err
    finally:
        for handler in logger.handlers[:]:
            if handler not in before:
                logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
