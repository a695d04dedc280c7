"""Celery-style tasks run by a real worker: options, request, retries, hooks, Ignore and
Reject, autoretry, time limits, update_state, async def tasks."""

from __future__ import annotations

import asyncio
import pickle
import time
from typing import Any

import pytest

from celeriac import states
from celeriac.compat.app import Celery, shared_task
from celeriac.compat.task import Task
from celeriac.core.message import TaskMessage
from celeriac.exceptions import (
    Ignore,
    MaxRetriesExceededError,
    NotRegistered,
    Reject,
    Retry,
    SoftTimeLimitExceeded,
    TaskRevokedError,
)
from tests.compat.conftest import drain


class Boom(Exception):
    """A user's exception with two arguments."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code


def test_decorator_forms_and_names(celery_app: Celery) -> None:
    @celery_app.task
    def bare(x: int) -> int:
        return x

    @celery_app.task(name="custom.name", max_retries=7, queue="q2")
    def named(x: int) -> int:
        return x

    assert bare.name == f"{__name__}.bare"
    assert named.name == "custom.name"
    assert named.max_retries == 7
    assert named.queue == "q2"
    assert celery_app.tasks["custom.name"] is named
    assert bare(3) == 3  # a direct call runs it here
    assert bare.request.called_directly


def test_values_states_and_failures(celery_app: Celery) -> None:
    @celery_app.task
    def add(x: int, y: int) -> int:
        return x + y

    @celery_app.task
    def fails() -> None:
        raise Boom(7, "bad")

    ok, bad = add.delay(2, 3), fails.delay()
    assert ok.state == states.PENDING
    drain(celery_app)
    assert ok.get(timeout=5) == 5
    assert (ok.state, ok.status, ok.result, ok.info) == ("SUCCESS", "SUCCESS", 5, 5)
    assert ok.ready() and ok.successful() and not ok.failed()
    assert ok.date_done is not None
    with pytest.raises(Boom) as raised:
        bad.get(timeout=5)
    assert raised.value.code == 7
    assert bad.failed() and isinstance(bad.result, Boom)
    assert "Boom" in (bad.traceback or "")
    assert isinstance(bad.get(timeout=5, propagate=False), Boom)


def test_bind_and_request_fields(celery_app: Celery) -> None:
    @celery_app.task(bind=True)
    def who(self: Task, x: int, *, y: int = 0) -> dict[str, Any]:
        r = self.request
        return {
            "id": r.id,
            "task": r.task,
            "args": r.args,
            "kwargs": r.kwargs,
            "retries": r.retries,
            "eager": r.is_eager,
            "direct": r.called_directly,
            "queue": r.delivery_info["routing_key"],
            "host": bool(r.hostname),
            "custom": r.get("trace_id"),
        }

    result = who.apply_async((1,), {"y": 2}, headers={"trace_id": "abc"})
    drain(celery_app)
    seen = result.get(timeout=5)
    assert seen == {
        "id": result.id,
        "task": who.name,
        "args": [1],
        "kwargs": {"y": 2},
        "retries": 0,
        "eager": False,
        "direct": False,
        "queue": "celery",
        "host": True,
        "custom": "abc",
    }


def test_manual_retry_then_success(celery_app: Celery) -> None:
    @celery_app.task(bind=True, max_retries=5)
    def flaky(self: Task, until: int) -> int:
        if self.request.retries < until:
            raise self.retry(countdown=0)
        return self.request.retries

    result = flaky.delay(2)
    drain(celery_app)
    assert result.get(timeout=5) == 2
    assert result.retries == 2


def test_retry_past_max_raises_max_retries_exceeded(celery_app: Celery) -> None:
    @celery_app.task(bind=True, max_retries=1)
    def always(self: Task) -> None:
        raise self.retry(countdown=0)

    @celery_app.task(bind=True, max_retries=1)
    def with_exc(self: Task) -> None:
        raise self.retry(exc=Boom(1, "x"), countdown=0)

    plain, own = always.delay(), with_exc.delay()
    drain(celery_app)
    with pytest.raises(MaxRetriesExceededError, match="Can't retry"):
        plain.get(timeout=5)
    with pytest.raises(Boom):  # the exc given to retry() is what the caller sees
        own.get(timeout=5)
    assert plain.retries == 1


def test_retry_with_new_arguments(celery_app: Celery) -> None:
    @celery_app.task(bind=True)
    def countdown(self: Task, n: int) -> int:
        if n > 0:
            raise self.retry(args=(n - 1,), countdown=0)
        return self.request.retries

    result = countdown.delay(3)
    drain(celery_app)
    assert result.get(timeout=5) == 3


def test_autoretry_with_backoff(celery_app: Celery) -> None:
    tries: list[int] = []

    @celery_app.task(
        bind=True,
        autoretry_for=(Boom,),
        dont_autoretry_for=(KeyError,),
        retry_kwargs={"max_retries": 2},
        retry_backoff=False,
        default_retry_delay=0,
    )
    def auto(self: Task, kind: str) -> str:
        tries.append(self.request.retries)
        if kind == "key":
            raise KeyError("no")
        raise Boom(2, "again")

    boom, key = auto.delay("boom"), auto.delay("key")
    drain(celery_app)
    with pytest.raises(Boom):
        boom.get(timeout=5)
    with pytest.raises(KeyError):
        key.get(timeout=5)
    assert boom.retries == 2 and key.retries == 0
    assert sorted(tries) == [0, 0, 1, 2]


def test_hooks_and_their_order(celery_app: Celery) -> None:
    calls: list[tuple[str, Any]] = []

    class Hooked(Task):
        def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
            calls.append(("before_start", tuple(args)))

        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            calls.append(("on_success", retval))

        def on_failure(self, exc: BaseException, *rest: Any) -> None:
            calls.append(("on_failure", type(exc).__name__))

        def on_retry(self, exc: BaseException | None, *rest: Any) -> None:
            calls.append(("on_retry", type(exc).__name__))

        def after_return(self, status: str, retval: Any, *rest: Any) -> None:
            calls.append(("after_return", status))

    @celery_app.task(base=Hooked, bind=True, max_retries=1)
    def hooked(self: Task, mode: str) -> str:
        if mode == "fail":
            raise Boom(3, "no")
        if mode == "retry" and not self.request.retries:
            raise self.retry(exc=ValueError("later"), countdown=0)
        return mode

    assert isinstance(hooked, Hooked)
    ok = hooked.delay("ok")
    drain(celery_app)
    ok.get(timeout=5)
    assert calls == [("before_start", ("ok",)), ("on_success", "ok"), ("after_return", "SUCCESS")]
    calls.clear()
    bad = hooked.delay("fail")
    drain(celery_app)
    bad.get(timeout=5, propagate=False)
    assert calls == [
        ("before_start", ("fail",)),
        ("on_failure", "Boom"),
        ("after_return", "FAILURE"),
    ]
    calls.clear()
    again = hooked.delay("retry")
    drain(celery_app)
    assert again.get(timeout=5) == "retry"
    assert calls[:2] == [("before_start", ("retry",)), ("on_retry", "ValueError")]
    assert ("after_return", "RETRY") not in calls


def test_ignore_stores_nothing_and_reject_fails_and_dead_letters(celery_app: Celery) -> None:
    @celery_app.task
    def ignored() -> None:
        raise Ignore()

    @celery_app.task
    def rejected() -> None:
        raise Reject("bad input", requeue=False)

    a, b = ignored.delay(), rejected.delay()
    drain(celery_app)
    assert a.state == states.PENDING
    # as Celery 5.7 records it: a failure with the Reject, so a caller does not hang
    assert b.state == states.FAILURE
    with pytest.raises(Reject) as info:
        b.get(timeout=5)
    assert info.value.args == ("bad input", False)
    codec = celery_app.core.codec
    dead = [
        d
        for d in celery_app.core.sync_broker.dead_letters("celery")
        if d.data is not None and TaskMessage.decode(d.data, codec).id in (a.id, b.id)
    ]
    assert len(dead) == 1  # the rejected one; the ignored one was acknowledged
    assert TaskMessage.decode(dead[0].data or b"", codec).id == b.id
    assert dead[0].reason == "rejected" and "bad input" in dead[0].error


def test_update_state_custom_state_and_meta(celery_app: Celery) -> None:
    seen: list[Any] = []

    @celery_app.task(bind=True)
    def progress(self: Task) -> str:
        self.update_state(state="PROGRESS", meta={"done": 3})
        mine = celery_app.AsyncResult(self.request.id or "")
        seen.append((mine.state, mine.info))
        return "done"

    result = progress.delay()
    drain(celery_app)
    assert seen == [("PROGRESS", {"done": 3})]
    assert result.get(timeout=5) == "done"


def test_ignore_result_keeps_no_result(celery_app: Celery) -> None:
    @celery_app.task(ignore_result=True)
    def quiet() -> int:
        return 1

    result = quiet.delay()
    drain(celery_app)
    assert result.state == states.PENDING


def test_soft_time_limit_in_async_task(celery_app: Celery) -> None:
    @celery_app.task(soft_time_limit=0.2)
    async def slow() -> str:
        try:
            await asyncio.sleep(5)
        except SoftTimeLimitExceeded:
            return "cleaned up"
        return "finished"

    result = slow.delay()
    started = time.monotonic()
    drain(celery_app)
    assert result.get(timeout=5) == "cleaned up"
    assert time.monotonic() - started < 4


def test_async_def_task_runs_on_the_loop(celery_app: Celery) -> None:
    @celery_app.task(bind=True)
    async def double(self: Task, x: int) -> tuple[int, str | None]:
        await asyncio.sleep(0)
        return x * 2, self.request.id

    result = double.delay(21)
    drain(celery_app)
    assert result.get(timeout=5) == [42, result.id]


def test_process_pool_sees_the_request(redis_app: Celery) -> None:
    @redis_app.task(bind=True)
    def where(self: Task) -> tuple[str | None, int]:
        import os

        return self.request.id, os.getpid()

    result = where.delay()
    drain(redis_app, pool="prefork")
    task_id, pid = result.get(timeout=10)
    import os

    assert task_id == result.id and pid != os.getpid()


def test_shared_task_binds_to_every_app(redis_url: str, prefix: str) -> None:
    @shared_task(name="shared.mul")
    def mul(x: int, y: int) -> int:
        return x * y

    first = Celery("one", broker="memory://", backend="memory://")
    second = Celery("two", broker=redis_url, backend=redis_url, celeriac_key_prefix=prefix)
    assert "shared.mul" in first.tasks and "shared.mul" in second.tasks
    assert mul.app is second  # the current app
    result = mul.delay(6, 7)
    drain(second)
    assert result.get(timeout=5) == 42
    second.close()


def test_revoke_before_it_runs(celery_app: Celery) -> None:
    @celery_app.task
    def never() -> None:
        raise AssertionError("a revoked task ran")

    result = never.apply_async(countdown=0.2)
    result.revoke()
    time.sleep(0.3)
    drain(celery_app)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=5)
    assert result.state == states.REVOKED


def test_typing_checks_arguments_at_send(celery_app: Celery) -> None:
    @celery_app.task
    def one(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="one"):
        one.delay(1, 2)


def test_rate_limit_spaces_starts_in_a_worker(celery_app: Celery) -> None:
    from celeriac.compat._app_core import per_second

    starts: list[float] = []

    @celery_app.task(rate_limit="10/s")
    def limited() -> None:
        starts.append(time.monotonic())

    for _ in range(4):
        limited.delay()
    drain(celery_app, concurrency=4)
    assert len(starts) == 4
    assert max(starts) - min(starts) >= 0.28  # three gaps of 0.1 s
    assert per_second("100/m") == pytest.approx(100 / 60) and per_second(None) is None
    with pytest.raises(Exception, match="rate limit"):
        per_second("fast")


def test_current_task_proxy(celery_app: Celery) -> None:
    from celeriac import current_task

    @celery_app.task
    def me() -> str | None:
        return str(current_task.name) if current_task else None

    assert not current_task
    with pytest.raises(AttributeError):
        current_task.name  # noqa: B018
    result = me.delay()
    drain(celery_app)
    assert result.get(timeout=5) == me.name
    assert me.apply().get() == me.name


def test_base_overriding_call_wraps_the_worker_run(celery_app: Celery) -> None:
    class Wrapping(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return ("wrapped", super().__call__(*args, **kwargs))

    @celery_app.task(base=Wrapping, bind=True)
    def inner(self: Task, x: int) -> tuple[int, bool]:
        return x, self.request.called_directly

    result = inner.delay(1)
    drain(celery_app)
    assert result.get(timeout=5) == ["wrapped", [1, False]]  # the worker's request kept
    assert inner(2) == ("wrapped", (2, True))  # a direct call


def test_children_are_the_tasks_it_sent(celery_app: Celery) -> None:
    @celery_app.task
    def leaf(x: int) -> int:
        return x

    @celery_app.task(bind=True)
    def parent(self: Task) -> list[str]:
        return [leaf.delay(1).id, leaf.delay(2).id]

    result = parent.delay()
    assert result.children is None  # not done yet
    drain(celery_app)
    sent = result.get(timeout=5)
    assert [child.id for child in result.children or []] == sent
    drain(celery_app)
    assert [child.get(timeout=5) for child in result.children or []] == [1, 2]
    child = celery_app.AsyncResult(sent[0])
    assert child.get(timeout=5) == 1


def test_unknown_task_fails_with_celerys_not_registered(celery_app: Celery) -> None:
    result = celery_app.send_task("proj.not_deployed", args=(1,))
    drain(celery_app)
    assert result.state == states.FAILURE
    with pytest.raises(NotRegistered) as info:
        result.get(timeout=5)
    assert str(info.value) == "'proj.not_deployed'"  # as Celery prints it: a KeyError
    assert str(NotRegistered("no task here, see the docs")) == "no task here, see the docs"


def test_retry_keeps_its_new_arguments_across_processes() -> None:
    retry = Retry(exc=KeyError("gone"), when=0.5, args=(70,), kwargs={"unit": "cm"})
    again = pickle.loads(pickle.dumps(retry))
    assert (again.retry_args, again.retry_kwargs, again.delay) == ((70,), {"unit": "cm"}, 0.5)
    assert isinstance(again.exc, KeyError) and str(again) == str(retry)


@pytest.mark.slow
def test_retry_with_new_arguments_in_the_process_pool(celery_app: Celery) -> None:
    @celery_app.task(bind=True, max_retries=2)
    def scaled(self: Task, value: int) -> int:
        if self.request.retries == 0:
            raise self.retry(args=(value * 10,), countdown=0)
        return value

    result = scaled.delay(7)
    drain(celery_app, pool="prefork", concurrency=1)
    assert result.get(timeout=5) == 70
