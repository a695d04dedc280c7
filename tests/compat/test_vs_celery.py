"""The same task code run eagerly under real Celery and under celeriac, in this process:
what the caller sees (states, values, exception types and messages, retries, hook and
signal order, request fields) must match."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import celery
import celery.exceptions
import celery.signals
import pytest

import celeriac
import celeriac.exceptions
import celeriac.signals

Impl = types.SimpleNamespace


def _impl(name: str) -> Impl:
    if name == "celery":
        return Impl(name=name, Celery=celery.Celery, exc=celery.exceptions, signals=celery.signals)
    return Impl(
        name=name, Celery=celeriac.Celery, exc=celeriac.exceptions, signals=celeriac.signals
    )


class Oops(Exception):
    """A user's exception with two arguments."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)


@pytest.fixture
def make_app() -> Iterator[Callable[[str], Any]]:
    made: list[Any] = []

    def make(name: str) -> Any:
        impl = _impl(name)
        app = impl.Celery("vs", broker="memory://", backend="cache+memory://", set_as_current=False)
        app.conf.task_always_eager = True
        made.append(app)
        return app

    yield make
    for app in made:
        app.close()


def observe(make_app: Callable[[str], Any], scenario: Callable[[Any, Impl], Any]) -> None:
    """Run ``scenario`` under both and compare what it returns."""
    seen = {}
    for name in ("celery", "celeriac"):
        seen[name] = scenario(make_app(name), _impl(name))
    assert seen["celeriac"] == seen["celery"]


def _outcome(result: Any) -> tuple[Any, ...]:
    value = result.result
    if isinstance(value, BaseException):  # messages may hold the task id: keep their shape
        value = (type(value).__name__, str(value).replace(result.id, "<id>"))
    return result.state, value, result.successful(), result.failed(), result.ready()


def test_values_and_failures(make_app: Callable[[str], Any]) -> None:
    def scenario(app: Any, impl: Impl) -> Any:
        @app.task
        def add(x: int, y: int) -> int:
            return x + y

        @app.task
        def fails() -> None:
            raise Oops(3, "three")

        seen = [_outcome(add.delay(2, 3)), _outcome(fails.apply())]
        seen.append(add(1, 1))
        with pytest.raises(Oops) as raised:
            fails.apply().get()
        seen.append(raised.value.args)
        return seen

    observe(make_app, scenario)


def test_retries_and_max_retries(make_app: Callable[[str], Any]) -> None:
    def scenario(app: Any, impl: Impl) -> Any:
        @app.task(bind=True, max_retries=2)
        def flaky(self: Any, until: int) -> Any:
            if self.request.retries < until:
                raise self.retry(countdown=10)
            return ("done", self.request.retries)

        @app.task(bind=True, max_retries=1)
        def hopeless(self: Any) -> None:
            raise self.retry(countdown=10)

        @app.task(bind=True, max_retries=1)
        def with_exc(self: Any) -> None:
            raise self.retry(exc=Oops(1, "again"), countdown=1)

        @app.task(autoretry_for=(KeyError,), retry_kwargs={"max_retries": 2}, retry_backoff=False)
        def auto() -> None:
            raise KeyError("k")

        results = [flaky.apply((1,)), hopeless.apply(), with_exc.apply(), auto.apply()]
        return [(*_outcome(r)[:2], r.retries) for r in results]

    observe(make_app, scenario)


def _hooked_base(app: Any, calls: list[Any]) -> Any:
    class Base(app.Task):  # type: ignore[name-defined,misc]
        def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
            calls.append(("before_start", tuple(args)))

        def on_success(self, retval: Any, *rest: Any) -> None:
            calls.append(("on_success", retval))

        def on_failure(self, exc: BaseException, *rest: Any) -> None:
            calls.append(("on_failure", type(exc).__name__))

        def after_return(self, status: str, *rest: Any) -> None:
            calls.append(("after_return", status))

    return Base


def _recorder(calls: list[Any], name: str) -> Callable[..., None]:
    def receive(sender: Any = None, **kw: Any) -> None:
        calls.append((name, getattr(sender, "name", sender)))

    return receive


def test_hooks_and_signals_order(make_app: Callable[[str], Any]) -> None:
    def scenario(app: Any, impl: Impl) -> Any:
        calls: list[Any] = []

        @app.task(base=_hooked_base(app, calls))
        def work(mode: str) -> str:
            if mode == "fail":
                raise Oops(1, "no")
            return mode

        names = ("task_prerun", "task_postrun", "task_success", "task_failure")
        receivers = {name: _recorder(calls, name) for name in names}
        for sig_name, fn in receivers.items():
            getattr(impl.signals, sig_name).connect(fn, sender=work)
        try:
            work.apply(("ok",))
            work.apply(("fail",))
        finally:
            for sig_name, fn in receivers.items():
                getattr(impl.signals, sig_name).disconnect(fn, sender=work)
        return calls

    observe(make_app, scenario)


def test_request_fields_when_eager_and_direct(make_app: Callable[[str], Any]) -> None:
    def scenario(app: Any, impl: Impl) -> Any:
        @app.task(bind=True)
        def who(self: Any, x: int, y: int = 0) -> Any:
            r = self.request
            return [r.args, r.kwargs, r.retries, r.is_eager, r.called_directly, r.id is not None]

        return [who.apply((1,), {"y": 2}).get(), who(1, y=2)]

    observe(make_app, scenario)


def test_ignore_and_update_state(make_app: Callable[[str], Any]) -> None:
    def scenario(app: Any, impl: Impl) -> Any:
        @app.task
        def ignored() -> None:
            raise impl.exc.Ignore()

        return [ignored.apply().state]

    observe(make_app, scenario)


def test_exception_hierarchy_matches(make_app: Callable[[str], Any]) -> None:
    pairs = [
        ("Retry", "TaskPredicate"),
        ("Ignore", "TaskPredicate"),
        ("Reject", "TaskPredicate"),
        ("MaxRetriesExceededError", "TaskError"),
        ("TaskRevokedError", "TaskError"),
        ("ChordError", "TaskError"),
        ("ImproperlyConfigured", "CeleryError"),
        ("TimeoutError", "CeleryError"),
    ]
    for child, parent in pairs:
        ours = getattr(celeriac.exceptions, child), getattr(celeriac.exceptions, parent)
        theirs = getattr(celery.exceptions, child), getattr(celery.exceptions, parent)
        assert issubclass(ours[0], ours[1]) == issubclass(theirs[0], theirs[1]), child
    assert str(celeriac.exceptions.Retry(exc=ValueError("x"), when=5)) == str(
        celery.exceptions.Retry(exc=ValueError("x"), when=5)
    )
    assert str(celeriac.exceptions.Reject("bad", requeue=False)) == str(
        celery.exceptions.Reject("bad", requeue=False)
    )
