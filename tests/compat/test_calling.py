"""Calling Celery-style: routes, priorities, countdown/eta/expires, links, send_task,
the publish signals, eager mode, and errors when the broker is down."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest

from celeriac import signals, states
from celeriac.compat._calling import core_priority
from celeriac.compat.app import Celery
from celeriac.compat.result import EagerResult
from celeriac.compat.task import Task
from celeriac.exceptions import OperationalError, TaskRevokedError, TimeLimitExceeded
from tests.compat.conftest import drain, make_app


def _queue_of(app: Celery, task_id: str) -> str | None:
    return app.AsyncResult(task_id).queue


def test_routes_dict_glob_callable_and_explicit_queue(redis_url: str, prefix: str) -> None:
    def router(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> Any:
        return {"queue": "by-callable"} if name.endswith("special") else None

    app = make_app(
        redis_url,
        prefix,
        result_extended=True,
        task_routes=[{"proj.exact": "by-dict", "proj.img.*": {"queue": "by-glob"}}, router],
    )

    @app.task(name="proj.exact")
    def exact() -> None: ...

    @app.task(name="proj.img.resize")
    def resize() -> None: ...

    @app.task(name="proj.special")
    def special() -> None: ...

    @app.task(name="proj.plain")
    def plain() -> None: ...

    @app.task(name="proj.own", queue="own-queue")
    def own() -> None: ...

    sent = {
        "by-dict": exact.delay(),
        "by-glob": resize.delay(),
        "by-callable": special.delay(),
        "celery": plain.delay(),
        "explicit": exact.apply_async(queue="explicit"),
        "own-queue": own.delay(),
    }
    drain(app, queues=list(sent))
    for queue, result in sent.items():
        result.get(timeout=5)
        assert result.queue == queue
    app.close()


def test_priority_lower_number_first_as_on_celery_redis(redis_app: Celery) -> None:
    order: list[int] = []

    @redis_app.task
    def note(p: int) -> None:
        order.append(p)

    for p in (9, 6, 0, 3):
        note.apply_async((p,), priority=p)
    drain(redis_app, concurrency=1, prefetch_multiplier=1)
    assert order == [0, 3, 6, 9]
    # kombu's bands: 0-2, 3-5, 6-8, 9
    assert [core_priority(p) for p in (None, 0, 2, 3, 5, 6, 8, 9, 12)] == [
        9,
        9,
        9,
        6,
        6,
        3,
        3,
        0,
        0,
    ]


def test_countdown_and_eta_wait(celery_app: Celery) -> None:
    ran: dict[str, float] = {}

    @celery_app.task
    def stamp(key: str) -> None:
        ran[key] = time.time()

    sent = time.time()
    stamp.apply_async(("countdown",), countdown=0.5)
    eta = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=0.5)
    stamp.apply_async(("eta",), eta=eta)
    naive = dt.datetime.utcnow() + dt.timedelta(seconds=0.5)
    stamp.apply_async(("naive",), eta=naive)
    deadline = time.monotonic() + 10
    while len(ran) < 3 and time.monotonic() < deadline:
        drain(celery_app)
        time.sleep(0.1)
    assert set(ran) == {"countdown", "eta", "naive"}
    assert all(when - sent >= 0.45 for when in ran.values()), ran


def test_expired_task_is_revoked(celery_app: Celery) -> None:
    @celery_app.task
    def late() -> None:
        raise AssertionError("an expired task ran")

    result = late.apply_async(countdown=0.3, expires=0.1)
    time.sleep(0.4)
    drain(celery_app)
    with pytest.raises(TaskRevokedError, match="expired"):
        result.get(timeout=5)
    assert result.state == states.REVOKED


def test_link_gets_the_result_and_link_error_the_request(celery_app: Celery) -> None:
    seen: list[Any] = []

    @celery_app.task
    def add(x: int, y: int) -> int:
        return x + y

    @celery_app.task
    def fail() -> None:
        raise ValueError("broken")

    @celery_app.task
    def record(value: Any, tag: str) -> None:
        seen.append((tag, value))

    @celery_app.task
    def on_error(request: Any, exc: BaseException, traceback: str) -> None:
        seen.append(("errback", request.id, type(exc).__name__, "ValueError" in traceback))

    @celery_app.task
    def old_style(task_id: str) -> None:
        seen.append(("old", task_id))

    ok = add.apply_async((2, 3), link=record.s("linked"))
    bad = fail.apply_async(link_error=[on_error.s(), old_style.s()])
    drain(celery_app)
    assert ok.get(timeout=5) == 5
    bad.get(timeout=5, propagate=False)
    drain(celery_app)
    assert ("linked", 5) in seen
    assert ("errback", bad.id, "ValueError", True) in seen
    assert ("old", bad.id) in seen


@pytest.mark.slow
def test_a_hard_time_limit_calls_errbacks_hooks_and_signal(celery_app: Celery) -> None:
    seen: list[Any] = []

    class Watched(Task):
        def on_failure(self, exc: Any, task_id: str, *rest: Any) -> None:
            seen.append(("on_failure", task_id, type(exc).__name__))

    @celery_app.task(base=Watched, time_limit=0.5)
    def stuck() -> None:
        time.sleep(5)

    @celery_app.task
    def on_error(request: Any, exc: BaseException, traceback: str) -> None:
        seen.append(("errback", request.id, type(exc).__name__))

    def failure(sender: Any = None, task_id: Any = None, exception: Any = None, **kw: Any) -> None:
        seen.append(("task_failure", task_id, type(exception).__name__))

    signals.task_failure.connect(failure)
    try:
        result = stuck.apply_async(link_error=on_error.s())
        drain(celery_app, pool="prefork", concurrency=1)
    finally:
        signals.task_failure.disconnect(failure)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=5)
    # in the worker's main process, once each, in Celery's order
    assert seen == [
        ("errback", result.id, "TimeLimitExceeded"),
        ("on_failure", result.id, "TimeLimitExceeded"),
        ("task_failure", result.id, "TimeLimitExceeded"),
    ]


def test_send_task_by_name(celery_app: Celery) -> None:
    @celery_app.task(name="by.name")
    def target(x: int) -> int:
        return x + 1

    result = celery_app.send_task("by.name", (1,), countdown=0)
    drain(celery_app)
    assert result.get(timeout=5) == 2


def test_publish_signals_and_added_headers(celery_app: Celery) -> None:
    seen: list[tuple[str, Any]] = []

    @celery_app.task(bind=True)
    def echo(self: Task) -> Any:
        return self.request.get("tenant")

    def before(sender: Any = None, headers: Any = None, routing_key: Any = None, **kw: Any) -> None:
        seen.append(("before", sender, routing_key))
        headers["tenant"] = "acme"

    def after(sender: Any = None, **kw: Any) -> None:
        seen.append(("after", sender, kw.get("routing_key")))

    signals.before_task_publish.connect(before)
    signals.after_task_publish.connect(after)
    try:
        result = echo.delay()
    finally:
        signals.before_task_publish.disconnect(before)
        signals.after_task_publish.disconnect(after)
    drain(celery_app)
    assert result.get(timeout=5) == "acme"
    assert seen == [("before", echo.name, "celery"), ("after", echo.name, "celery")]


def test_eager_apply_and_always_eager(prefix: str) -> None:
    app = Celery("eager", broker="memory://", backend="memory://", task_always_eager=True)

    @app.task(bind=True, max_retries=2)
    def flaky(self: Task, x: int) -> int:
        if self.request.retries < 2:
            raise self.retry(countdown=60)
        assert self.request.is_eager
        return x

    @app.task
    def fails() -> None:
        raise KeyError("k")

    result = flaky.delay(5)
    assert isinstance(result, EagerResult)
    assert (result.get(), result.state, result.retries) == (5, "SUCCESS", None)  # as Celery
    failed = fails.apply()
    assert failed.state == "FAILURE" and isinstance(failed.result, KeyError)
    assert "KeyError" in (failed.traceback or "")
    with pytest.raises(KeyError):
        failed.get()
    app.conf.task_eager_propagates = True
    with pytest.raises(KeyError):
        fails.delay()


def test_broker_down_is_an_operational_error(prefix: str) -> None:
    app = Celery(
        "down",
        broker="redis://127.0.0.1:1/0",
        backend="redis://127.0.0.1:1/0",
        celeriac_key_prefix=prefix,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0},
    )

    @app.task
    def nothing() -> None: ...

    with pytest.raises(OperationalError):
        nothing.delay()
    app.close()


def test_results_off_without_a_backend() -> None:
    app = Celery("nobackend", broker="memory://")

    @app.task
    def value() -> int:
        return 1

    result = value.delay()
    drain(app)
    with pytest.raises(Exception, match="No result backend is configured"):
        result.get(timeout=1)


def test_unknown_option_and_other_serializer_warn_once() -> None:
    app = Celery("opts", broker="memory://", backend="memory://")

    @app.task
    def noop() -> None: ...

    with pytest.warns(UserWarning, match="'frobnicate' is not known"):
        noop.apply_async(frobnicate=True)
    with pytest.warns(UserWarning, match="serializer 'msgpack' differs"):
        noop.apply_async(serializer="msgpack")
    noop.apply_async(frobnicate=True, serializer="msgpack")  # once each: no warning now


def test_async_producer_and_result(redis_app: Celery) -> None:
    import anyio

    from celeriac.exceptions import TimeoutError as ResultTimeoutError

    @redis_app.task
    def add(x: int, y: int) -> int:
        return x + y

    @redis_app.task
    def fails() -> None:
        raise LookupError("gone")

    async def produce() -> tuple[Any, Any]:
        try:
            return await add.adelay(2, 2), await fails.aapply_async()
        finally:
            await redis_app.core.aclose()

    ok, bad = anyio.run(produce)
    drain(redis_app)

    async def consume() -> Any:
        try:
            with pytest.raises(LookupError):
                await bad.aget(timeout=5)
            with pytest.raises(ResultTimeoutError):
                await redis_app.AsyncResult("never-sent").aget(timeout=0.1)
            return await ok.aget(timeout=5)
        finally:
            await redis_app.core.aclose()

    assert anyio.run(consume) == 4
