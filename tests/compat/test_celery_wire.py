"""Mixed fleets: Celery producers, celeriac workers. A real Celery client sends protocol 2
messages through kombu; a celeriac worker reading Celery's queue runs them and writes
the results where Celery's AsyncResult reads them (on a private redis-server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import celery
import pytest
import redis

from celeriac.compat import testing
from celeriac.compat.app import Celery
from celeriac.compat.celery_wire import CeleryResult, dead_letter_key
from celeriac.compat.worker import WorkerOptions, make_worker
from tests.compat.conftest import make_app

# a Celery app finalized here registers every shared_task other tests made with real
# Celery, some twice (parametrized): Celery warns about those, not about this module
pytestmark = pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")

QUEUE = "legacy"
CELERY_SIDE = "celery-side"  # read by a real Celery worker only
ROUTES = {"wire.legacy_*": {"queue": CELERY_SIDE}}
# the Celery side of the fleet: a project its own worker runs
CELERY_PROJECT = """
import os
from celery import Celery

app = Celery("wirecelery", broker=os.environ["WIRE_URL"], backend=os.environ["WIRE_URL"])
app.conf.task_default_queue = "legacy"
app.conf.task_routes = {"wire.legacy_*": {"queue": "celery-side"}}


@app.task(name="wire.legacy_double")
def legacy_double(x):
    return x * 2


@app.task(name="wire.legacy_fail")
def legacy_fail(key):
    raise KeyError(key)
"""


@pytest.fixture
def fleet(redis_url: str, prefix: str) -> Iterator[tuple[celery.Celery, Celery]]:
    """A Celery client and a celeriac worker reading its queue, on one Redis."""
    client = redis.Redis.from_url(redis_url)  # the tests' own server: Celery's queue
    for name in (QUEUE, CELERY_SIDE, dead_letter_key(QUEUE)):  # names are not prefixed
        client.delete(*client.keys(f"{name}*"), name)
    client.close()
    theirs = celery.Celery("wire", broker=redis_url, backend=redis_url, set_as_current=False)
    theirs.conf.task_default_queue = QUEUE
    theirs.conf.task_routes = ROUTES
    # one configuration for both, as a team migrating one service at a time has
    ours = make_app(
        redis_url,
        prefix,
        task_default_queue=QUEUE,
        task_routes=ROUTES,
        celeriac_celery_tasks=["wire.legacy_*"],
    )
    attempts: dict[str, int] = {}

    @ours.task(name="wire.add")
    def add(x: int, y: int) -> int:
        return x + y

    @ours.task(name="wire.mul")
    def mul(x: int, y: int) -> int:
        return x * y

    @ours.task(name="wire.boom")
    def boom(text: str) -> None:
        raise ValueError(text)

    @ours.task(name="wire.flaky", bind=True, max_retries=3)
    def flaky(self: Any, key: str) -> str:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 2:
            raise self.retry(countdown=0.2)
        return f"ok after {attempts[key]}"

    options = WorkerOptions(pool="threads", concurrency=2, celery_queues=[QUEUE])
    worker = testing.TestWorkController(ours, make_worker(ours, options))
    worker.start()
    try:
        yield theirs, ours
    finally:
        worker.stop()
        ours.close()
        theirs.close()


def test_a_celery_call_runs_in_celeriac_and_celery_reads_the_result(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    result = theirs.send_task("wire.add", args=(2, 3))
    assert result.get(timeout=10) == 5
    assert result.state == "SUCCESS"
    kwargs = theirs.send_task("wire.add", kwargs={"x": 1, "y": 1}, priority=6)
    assert kwargs.get(timeout=10) == 2
    burst = [theirs.send_task("wire.add", args=(i, i)) for i in range(60)]  # handed over
    assert [r.get(timeout=15) for r in burst] == [2 * i for i in range(60)]  # in batches


def test_a_failure_reaches_the_celery_caller_as_its_exception(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    result = theirs.send_task("wire.boom", args=("no luck",))
    with pytest.raises(ValueError, match="no luck"):
        result.get(timeout=10)
    assert result.state == "FAILURE"
    assert "ValueError: no luck" in (result.traceback or "")


def test_countdown_and_retry_are_honoured(fleet: tuple[celery.Celery, Celery]) -> None:
    theirs, _ = fleet
    started = time.monotonic()
    later = theirs.send_task("wire.add", args=(1, 1), countdown=1.0)
    assert later.get(timeout=10) == 2
    assert time.monotonic() - started >= 1.0
    retried = theirs.send_task("wire.flaky", args=("k",))
    assert retried.get(timeout=10) == "ok after 2"


def test_a_celery_chain_goes_on_through_celery_messages(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    step = theirs.signature("wire.add", args=(1, 2))
    then = theirs.signature("wire.mul", args=(10,))
    result = (step | then).apply_async()  # bound to the Celery app, as its signatures
    assert result.get(timeout=10) == 30
    assert result.parent is not None and result.parent.get(timeout=10) == 3


def test_what_cannot_run_here_is_dead_lettered(
    fleet: tuple[celery.Celery, Celery], redis_url: str
) -> None:
    theirs, _ = fleet
    unknown = theirs.send_task("wire.nowhere", args=(1,))
    client = redis.Redis.from_url(redis_url)
    # a protocol 1 message, as Celery 3 wrote them: no task header, the call in the body
    old = {
        "body": json.dumps({"task": "wire.add", "id": "old-1", "args": [1, 2]}),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {},
        "properties": {
            "delivery_info": {"exchange": "", "routing_key": QUEUE},
            "delivery_tag": "tag-old-1",
            "body_encoding": "utf-8",
            "priority": 0,
        },
    }
    client.lpush(QUEUE, json.dumps(old))
    deadline = time.monotonic() + 10
    while client.llen(dead_letter_key(QUEUE)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [json.loads(r) for r in client.lrange(dead_letter_key(QUEUE), 0, -1)]
    reasons = sorted(r["reason"] for r in records)
    assert reasons == [
        "not a Celery protocol 2 message (no 'task' and 'id' headers)",
        "task 'wire.nowhere' is not registered in this celeriac app",
    ]
    assert {r["queue"] for r in records} == {QUEUE}
    kept = next(r for r in records if "wire.nowhere" in r["reason"])
    assert kept["headers"]["id"] == unknown.id  # the message as kombu stored it
    assert client.llen(QUEUE) == 0  # taken off the queue, not dropped


@pytest.fixture
def celery_worker_process(tmp_path: Path, redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker reading the Celery-only queue."""
    (tmp_path / "wirecelery.py").write_text(CELERY_PROJECT)
    log = tmp_path / "celery.log"
    env = {**os.environ, "WIRE_URL": redis_url, "PYTHONPATH": str(tmp_path)}
    argv = [str(Path(sys.executable).with_name("celery")), "-A", "wirecelery", "worker"]
    argv += ["-Q", CELERY_SIDE, "-P", "solo", "-l", "INFO", "--logfile", str(log)]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and "ready." in log.read_text()):
            assert process.poll() is None, "the Celery worker exited"
            assert time.monotonic() < deadline, "the Celery worker did not start"
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_celeriac_sends_to_a_celery_worker(
    fleet: tuple[celery.Celery, Celery], celery_worker_process: subprocess.Popen[bytes]
) -> None:
    _, ours = fleet
    doubled = ours.send_task("wire.legacy_double", args=(21,))
    assert isinstance(doubled, CeleryResult)
    assert doubled.get(timeout=15) == 42
    assert doubled.state == "SUCCESS" and doubled.ready()
    failed = ours.send_task("wire.legacy_fail", args=("missing",))
    with pytest.raises(KeyError, match="missing"):
        failed.get(timeout=15)
    assert failed.state == "FAILURE" and "KeyError" in (failed.traceback or "")
    started = time.monotonic()
    later = ours.send_task("wire.legacy_double", args=(1,), countdown=1.0)
    assert later.get(timeout=15) == 2
    assert time.monotonic() - started >= 1.0


@pytest.mark.slow
def test_chains_cross_between_celery_and_celeriac_workers(
    fleet: tuple[celery.Celery, Celery], celery_worker_process: subprocess.Popen[bytes]
) -> None:
    theirs, _ = fleet
    # celeriac runs the first step, then the Celery worker the second
    forth = (
        theirs.signature("wire.add", args=(1, 2)) | theirs.signature("wire.legacy_double")
    ).apply_async()
    assert forth.get(timeout=15) == 6
    # the Celery worker first, then celeriac
    back = (
        theirs.signature("wire.legacy_double", args=(5,)) | theirs.signature("wire.add", args=(1,))
    ).apply_async()
    assert back.get(timeout=15) == 11


def test_undecodable_and_foreign_content_is_dead_lettered(
    fleet: tuple[celery.Celery, Celery], redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)

    def raw(body: str, content_type: str, tag: str) -> str:
        return json.dumps({
            "body": body,
            "content-encoding": "utf-8",
            "content-type": content_type,
            "headers": {"task": "wire.add", "id": tag},
            "properties": {
                "delivery_info": {"exchange": "", "routing_key": QUEUE},
                "delivery_tag": tag,
                "body_encoding": "utf-8",
                "priority": 0,
            },
        })  # fmt: skip

    client.lpush(QUEUE, raw("{not json", "application/json", "t-1"))
    client.lpush(QUEUE, raw("\\x80\\x04K\\x01.", "application/x-python-serialize", "t-2"))
    deadline = time.monotonic() + 10
    while client.llen(dead_letter_key(QUEUE)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [json.loads(r) for r in client.lrange(dead_letter_key(QUEUE), 0, -1)]
    assert sorted(r["headers"]["id"] for r in records) == ["t-1", "t-2"]
    assert all(r["reason"].startswith("cannot decode the body") for r in records)
    assert client.llen(QUEUE) == 0


def test_messages_and_results_in_celerys_shapes(fleet: tuple[celery.Celery, Celery]) -> None:
    from celeriac.compat.celery_wire import Foreign, celery_meta, from_celery, rebuild_exception

    _, ours = fleet
    headers = {
        "task": "wire.add", "id": "abc", "eta": "2030-01-01T00:00:00+00:00",
        "expires": None, "retries": 2, "timelimit": [30, 10], "root_id": "r",
        "parent_id": "p", "x_tenant": "acme",
    }  # fmt: skip
    body = [[1], {"y": 2}, {"chain": [{"task": "wire.mul"}], "errbacks": None}]
    message = from_celery(ours, headers, body, {"priority": 0}, QUEUE)
    assert (message.id, message.name, message.args, dict(message.kwargs)) == (
        "abc", "wire.add", (1,), {"y": 2},
    )  # fmt: skip
    assert (message.timeout, message.soft_timeout, message.retries) == (30.0, 10.0, 2)
    assert (message.root_id, message.parent_id, message.queue) == ("r", "p", QUEUE)
    assert message.eta is not None and message.headers["x_tenant"] == "acme"
    assert message.headers["celery"]["bridge"]["chain"] == [{"task": "wire.mul"}]
    for bad_headers, bad_body, reason in (
        ({}, body, "not a Celery protocol 2 message"),
        ({"task": "wire.add", "id": "x"}, {"args": []}, r"body is \[args, kwargs, embed\]"),
    ):
        with pytest.raises(Foreign, match=reason):
            from_celery(ours, bad_headers, bad_body, {}, QUEUE)
    meta = celery_meta("abc", "FAILURE", exc=KeyError("k"))
    assert meta["result"] == {
        "exc_type": "KeyError",
        "exc_message": ["k"],
        "exc_module": "builtins",
    }
    rebuilt = rebuild_exception(meta["result"])
    assert isinstance(rebuilt, KeyError) and rebuilt.args == ("k",)
    odd = rebuild_exception(
        {"exc_type": "Gone", "exc_module": "no.such.module", "exc_message": ["x"]}
    )
    assert type(odd).__name__ == "Gone" and str(odd) == "x"


def test_an_expired_call_is_revoked_for_the_celery_caller(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    import datetime as dt

    from celery.exceptions import TaskRevokedError

    theirs, _ = fleet
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    result = theirs.send_task("wire.add", args=(1, 1), expires=past)
    with pytest.raises(TaskRevokedError, match="expired"):
        result.get(timeout=10)
    assert result.state == "REVOKED"
