"""Signals (connect forms, senders, weak references, errors), states, task logging, and
the task signals a real worker sends."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from typing import Any

import celery.states
import pytest

from celeriac import signals, states
from celeriac.compat.app import Celery
from celeriac.compat.log import TaskFormatter, get_task_logger, setup_worker_logging, task_logger
from celeriac.compat.signals import Signal
from celeriac.compat.task import Task
from celeriac.utils.log import get_logger
from tests.compat.conftest import drain


def test_connect_forms_and_sender_filter() -> None:
    sig = Signal(name="test")
    heard: list[tuple[str, Any]] = []

    @sig.connect
    def bare(sender: Any = None, **kw: Any) -> str:
        heard.append(("bare", sender))
        return "b"

    @sig.connect(sender="only-me")
    def filtered(sender: Any = None, **kw: Any) -> None:
        heard.append(("filtered", sender))

    def plain(sender: Any = None, value: int = 0, **kw: Any) -> int:
        heard.append(("plain", value))
        return value

    sig.connect(plain, weak=False)
    responses = sig.send(sender="someone", value=3)
    assert [(r.__name__, value) for r, value in responses] == [("bare", "b"), ("plain", 3)]
    assert ("filtered", "someone") not in heard
    sig.send(sender="only-me")
    assert ("filtered", "only-me") in heard
    assert sig.disconnect(plain) and not sig.disconnect(plain)


def test_dispatch_uid_connects_once_and_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sig = Signal(name="test")

    def boom(**kw: Any) -> None:
        raise ValueError("handler broke")

    def fine(**kw: Any) -> str:
        return "ok"

    sig.connect(boom, dispatch_uid="one", weak=False)
    sig.connect(boom, dispatch_uid="one", weak=False)
    sig.connect(fine, weak=False)
    with caplog.at_level(logging.ERROR):
        responses = sig.send(sender=None)
    assert len(responses) == 2
    assert isinstance(responses[0][1], ValueError) and responses[1][1] == "ok"
    assert "Signal handler" in caplog.text


def test_weak_receivers_go_away() -> None:
    sig = Signal(name="test")

    class Holder:
        def method(self, **kw: Any) -> str:
            return "m"

    holder = Holder()
    sig.connect(holder.method)
    sig.connect(lambda **kw: "gone")  # only this signal held it, weakly
    gc.collect()
    assert [r for _, r in sig.send(sender=None)] == ["m"]
    del holder
    gc.collect()
    assert sig.send(sender=None) == []


def test_states_order_like_celery() -> None:
    names = [*states.ALL_STATES, "PROGRESS"]
    ours = sorted(names, key=states.state)
    theirs = sorted(names, key=celery.states.state)
    assert ours == theirs
    assert states.state("PROGRESS") > states.state(states.STARTED)
    assert not states.state("PROGRESS") > states.state(states.SUCCESS)
    for name in ("READY_STATES", "UNREADY_STATES", "EXCEPTION_STATES", "PROPAGATE_STATES"):
        assert getattr(states, name) == getattr(celery.states, name), name


def test_task_logger_and_formatter() -> None:
    log = get_task_logger("proj.tasks")
    assert log.parent is task_logger
    assert get_logger("proj.other").parent is logging.getLogger("celeriac")
    with pytest.raises(RuntimeError):
        get_task_logger("celeriac.task")
    record = logging.LogRecord("proj.tasks", logging.INFO, __file__, 1, "hello", None, None)
    assert TaskFormatter("%(task_name)s[%(task_id)s] %(message)s").format(record) == (
        "???[???] hello"
    )


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, list(task_logger.handlers), task_logger.propagate)
    try:
        yield
    finally:
        for handler in [*root.handlers, *task_logger.handlers]:
            if handler not in saved[0] and handler not in saved[2]:
                handler.close()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        task_logger.handlers[:] = saved[2]
        task_logger.propagate = saved[3]


@pytest.mark.usefixtures("restore_logging")
def test_worker_logging_setup_and_its_signals(tmp_path: Any) -> None:
    seen: list[str] = []

    def after(logger: Any = None, **kw: Any) -> None:
        seen.append(logger.name)

    signals.after_setup_logger.connect(after)
    signals.after_setup_task_logger.connect(after)
    try:
        setup_worker_logging("INFO", str(tmp_path / "w.log"))
    finally:
        signals.after_setup_logger.disconnect(after)
        signals.after_setup_task_logger.disconnect(after)
    assert seen == ["root", "celeriac.task"]
    get_task_logger("proj.tasks").warning("from outside")
    text = (tmp_path / "w.log").read_text()
    assert "WARNING/MainProcess] ???[???]: from outside" in text


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_receiver_takes_over(tmp_path: Any) -> None:
    def own(**kw: Any) -> None:
        pass

    before = list(logging.getLogger().handlers)
    signals.setup_logging.connect(own)
    try:
        setup_worker_logging("INFO", str(tmp_path / "w.log"))
    finally:
        signals.setup_logging.disconnect(own)
    assert logging.getLogger().handlers == before


def test_task_signals_from_a_worker(celery_app: Celery) -> None:
    heard: list[tuple[str, Any]] = []

    @celery_app.task(bind=True, max_retries=1)
    def work(self: Task, mode: str) -> str:
        if mode == "fail":
            raise ValueError("no")
        if mode == "retry" and not self.request.retries:
            raise self.retry(countdown=0)
        return mode

    def recorder(tag: str, pick: Any) -> Any:
        def receive(**kw: Any) -> None:
            heard.append((tag, pick(kw)))

        return receive

    prerun = recorder("prerun", lambda kw: (kw["sender"] is work, tuple(kw["args"])))
    postrun = recorder("postrun", lambda kw: kw["state"])
    success = recorder("success", lambda kw: kw["result"])
    failure = recorder("failure", lambda kw: type(kw["exception"]).__name__)
    retry = recorder("retry", lambda kw: kw["request"].retries)

    pairs = [
        (signals.task_prerun, prerun),
        (signals.task_postrun, postrun),
        (signals.task_success, success),
        (signals.task_failure, failure),
        (signals.task_retry, retry),
    ]
    for sig, fn in pairs:
        sig.connect(fn, sender=work)
    try:
        for mode in ("ok", "fail", "retry"):
            work.delay(mode)
            drain(celery_app)
    finally:
        for sig, fn in pairs:
            sig.disconnect(fn, sender=work)
    assert heard == [
        ("prerun", (True, ("ok",))),
        ("success", "ok"),
        ("postrun", "SUCCESS"),
        ("prerun", (True, ("fail",))),
        ("failure", "ValueError"),
        ("postrun", "FAILURE"),
        ("prerun", (True, ("retry",))),
        ("retry", 0),
        ("postrun", "RETRY"),
        ("prerun", (True, ("retry",))),
        ("success", "retry"),
        ("postrun", "SUCCESS"),
    ]


def test_worker_side_signals_received_unknown_revoked(celery_app: Celery) -> None:
    import time

    heard: list[tuple[str, Any]] = []

    @celery_app.task
    def work() -> None: ...

    def received(request: Any = None, **kw: Any) -> None:
        # the worker's Request (as Celery's): task is the Task, name its name
        heard.append(("received", (request.name, request.task is work, request.id)))

    def unknown(name: Any = None, **kw: Any) -> None:
        heard.append(("unknown", name))

    def revoked(sender: Any = None, expired: Any = None, **kw: Any) -> None:
        heard.append(("revoked", (sender is work, expired)))

    pairs = [
        (signals.task_received, received),
        (signals.task_unknown, unknown),
        (signals.task_revoked, revoked),
    ]
    for sig, fn in pairs:
        sig.connect(fn)
    try:
        sent = work.delay()
        celery_app.send_task("no.such.task")
        work.apply_async(countdown=0.2, expires=0.1)
        time.sleep(0.3)
        drain(celery_app)
    finally:
        for sig, fn in pairs:
            sig.disconnect(fn)
    assert ("received", (work.name, True, sent.id)) in heard
    assert ("unknown", "no.such.task") in heard
    assert ("revoked", (True, True)) in heard


def test_received_request_is_the_workers_view_of_the_message() -> None:
    import datetime as dt

    from celeriac.compat.request import META, Request
    from celeriac.core.message import TaskMessage

    message = TaskMessage(
        name="proj.add", args=(1, 2), kwargs={"z": 3}, eta=1_800_000_000.0,
        expires=1_800_000_060.0, queue="q1", headers={META: {"shadow": "friendly.add"}},
    )  # fmt: skip
    request = Request(message, task=None, hostname="w1@host")
    assert (request.id, request.task_id) == (message.id, message.id)
    assert (request.name, request.type, request.task_name) == (
        "friendly.add", "proj.add", "friendly.add",
    )  # fmt: skip
    assert (request.args, request.kwargs) == ([1, 2], {"z": 3})
    assert request.eta == dt.datetime.fromtimestamp(1_800_000_000, dt.timezone.utc)
    assert request.expires is not None and request.expires.tzinfo is not None
    assert request.delivery_info["routing_key"] == "q1"
    assert request.hostname == "w1@host"
    assert request.humaninfo() == f"friendly.add[{message.id}]"
    assert str(request).startswith(f"friendly.add[{message.id}] ETA:[2027-")
    assert repr(request) == f"<Request: friendly.add[{message.id}] (1, 2) {{'z': 3}}>"
    assert request.request_dict["task"] == "proj.add"
