"""Mixed fleets: Celery producers, celeriac workers. A real Celery client sends protocol 2
messages through kombu; a celeriac worker reading Celery's queue runs them and writes
the results where Celery's AsyncResult reads them (on a private redis-server)."""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import celery
import celery.exceptions
import pytest
import redis

from celeriac.compat import testing
from celeriac.compat.app import Celery
from celeriac.compat.celery_wire import CeleryResult, dead_letter_key
from celeriac.compat.worker import WorkerOptions, make_worker
from tests.compat.conftest import make_app

# a Celery app finalized here registers every shared_task other tests made with real
# Celery, some twice (parametrized): Celery warns about those, not about this module
# (Celery 5.4 on; before, it says nothing)
pytestmark = (
    [pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")]
    if hasattr(celery.exceptions, "DuplicateTaskNameWarning")
    else []
)

QUEUE = "legacy"
CELERY_SIDE = "celery-side"  # read by a real Celery worker only
ROUTES = {"wire.legacy_*": {"queue": CELERY_SIDE}}
RECORDED: list[tuple[str, str]] = []  # what errbacks saw (the celeriac worker's threads)
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
        result_extended=True,
    )
    RECORDED.clear()
    _define_tasks(ours)
    options = WorkerOptions(pool="threads", concurrency=2, celery_queues=[QUEUE])
    worker = testing.TestWorkController(ours, make_worker(ours, options))
    worker.start()
    try:
        yield theirs, ours
    finally:
        worker.stop()
        ours.close()
        # Celery's results unsubscribe when collected: while its Redis is still there.
        # Doing so, Celery's result consumer may drop a socket without closing it (its
        # leak, not ours): that warning alone is silenced here
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        theirs.close()


def _define_tasks(ours: Celery) -> None:
    """The celeriac side's tasks (the Celery side knows only their names)."""
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

    @ours.task(name="wire.total")
    def total(values: list[int]) -> int:
        return sum(values)

    @ours.task(name="wire.record_error")  # an errback of the old style: the task id
    def record_error(task_id: str) -> None:
        RECORDED.append(("old", task_id))

    @ours.task(name="wire.record_failure")  # the new style: request, exception, traceback
    def record_failure(request: Any, exc: BaseException, traceback: Any) -> None:
        RECORDED.append(("new", f"{request.id} {exc!r}"))

    @ours.task(name="wire.progress", bind=True, track_started=True)
    def progress(self: Any) -> str:
        time.sleep(0.4)  # STARTED meanwhile
        self.update_state(state="PROGRESS", meta={"done": 1})
        time.sleep(0.4)
        return "finished"

    @ours.task(name="wire.flaky", bind=True, max_retries=3)
    def flaky(self: Any, key: str) -> str:
        attempts[key] = attempts.get(key, 0) + 1
        if attempts[key] < 2:
            raise self.retry(countdown=0.2)
        return f"ok after {attempts[key]}"


def test_a_celery_call_runs_in_celeriac_and_celery_reads_the_result(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    result = theirs.send_task("wire.add", args=(2, 3))
    assert result.get(timeout=10) == 5
    assert result.state == "SUCCESS"
    kwargs = theirs.send_task("wire.add", kwargs={"x": 1, "y": 1}, priority=6)
    assert kwargs.get(timeout=10) == 2
    assert (result.name, result.args, result.queue) == ("wire.add", [2, 3], QUEUE)  # extended
    burst = [theirs.send_task("wire.add", args=(i, i)) for i in range(60)]  # handed over
    assert [r.get(timeout=15) for r in burst] == [2 * i for i in range(60)]  # in batches


def test_started_and_progress_reach_the_celery_caller(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    result = theirs.send_task("wire.progress")
    _until(lambda: result.state == "STARTED")
    assert result.info["pid"] > 0
    _until(lambda: result.state == "PROGRESS")
    assert result.info == {"done": 1}
    assert result.get(timeout=10) == "finished"


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
    from celeriac.compat.celery_wire import Foreign, celery_meta, from_celery
    from celeriac.compat.celery_wire.results import task_outcome
    from celeriac.core.errors import RemoteTaskError

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
    rebuilt = task_outcome("FAILURE", meta["result"])
    assert isinstance(rebuilt, KeyError) and rebuilt.args == ("k",)
    # a class from a module not imported here is never imported because a result names it
    odd = task_outcome(
        "FAILURE", {"exc_type": "Gone", "exc_module": "no.such.module", "exc_message": ["x"]}
    )
    assert isinstance(odd, RemoteTaskError) and "no.such.module.Gone" in str(odd)
    assert task_outcome("SUCCESS", [1, 2]) == [1, 2]


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


def _until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_celery_chord_runs_in_celeriac_and_its_body_is_called(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    theirs, _ = fleet
    header = [theirs.signature("wire.add", args=(i, i)) for i in range(5)]
    result = celery.chord(header)(theirs.signature("wire.total"))
    assert result.get(timeout=15) == 20
    # the chord's keys in Celery's backend are gone once the body is sent
    backend = theirs.backend.client
    group_id = result.parent.id
    assert backend.exists(f"celery-taskset-meta-{group_id}.j") == 0
    assert backend.get(f"celery-taskset-meta-{group_id}.c") == b"done"


def test_a_failed_chord_header_fails_the_body_and_calls_its_errbacks(
    fleet: tuple[celery.Celery, Celery],
) -> None:
    from celery.exceptions import ChordError

    theirs, _ = fleet
    header = [theirs.signature("wire.add", args=(1, 1)), theirs.signature("wire.boom", ("x",))]
    body = theirs.signature("wire.total").on_error(theirs.signature("wire.record_error"))
    body = body.on_error(theirs.signature("wire.record_failure"))
    result = celery.chord(header)(body)
    with pytest.raises(ValueError, match="x"):  # Celery's get() raises the header's first
        result.get(timeout=15)
    with pytest.raises(ChordError, match=r"Dependency .* raised ValueError\('x'\)"):
        result.get(timeout=15, follow_parents=False)  # the body's own: a ChordError
    _until(lambda: len(RECORDED) == 2)
    assert ("old", result.id) in RECORDED  # sent as a Celery message with the body's id
    assert any(kind == "new" and text.startswith(result.id) for kind, text in RECORDED)


def test_a_celery_callers_errbacks_and_failed_chains(fleet: tuple[celery.Celery, Celery]) -> None:
    theirs, _ = fleet
    failed = theirs.send_task(
        "wire.boom",
        args=("errback",),
        link_error=[theirs.signature("wire.record_error"), theirs.signature("wire.record_failure")],
    )
    with pytest.raises(ValueError, match="errback"):
        failed.get(timeout=10)
    _until(lambda: len(RECORDED) == 2)
    assert ("old", failed.id) in RECORDED
    assert ("new", f"{failed.id} ValueError('errback')") in RECORDED
    # the steps after a failed one fail too (Celery 5.7), so waiting for the last ends
    chained = (
        theirs.signature("wire.boom", args=("first",)) | theirs.signature("wire.add", args=(1,))
    ).apply_async()
    with pytest.raises(ValueError, match="first"):
        chained.get(timeout=10)
    _until(lambda: chained.state == "FAILURE")
    assert isinstance(chained.result, ValueError)


def test_a_workflow_with_a_celery_task_is_sent_in_celerys_shape(
    fleet: tuple[celery.Celery, Celery], redis_url: str
) -> None:
    """No Celery worker runs here: the messages stay on Celery's queue to be read."""
    from celeriac.compat.canvas import chord, group

    _, ours = fleet
    double = ours.signature("wire.legacy_double")
    result = chord([double.clone(args=(i,)) for i in range(3)], ours.signature("wire.total"))()
    assert isinstance(result, CeleryResult) and result.parent is not None
    client = redis.Redis.from_url(redis_url)
    raw = [json.loads(m) for m in client.lrange(CELERY_SIDE, 0, -1)]
    assert len(raw) == 3
    headers = [m["headers"] for m in raw]
    assert {h["group"] for h in headers} == {result.parent.id}
    assert sorted(h["group_index"] for h in headers) == [0, 1, 2]
    assert sorted(h["id"] for h in headers) == sorted(r.id for r in result.parent.results)
    body = json.loads(base64.b64decode(raw[0]["body"]))  # kombu's envelope: base64
    assert body[2]["chord"]["task"] == "wire.total"
    assert body[2]["chord"]["options"]["task_id"] == result.id
    assert client.get(f"celery-taskset-meta-{result.parent.id}.s") == b"3"
    client.delete(CELERY_SIDE)
    # a group: each task with the group's id; a celeriac-only workflow stays celeriac's
    members = group(double.clone(args=(i,)) for i in range(2)).apply_async()
    assert [r.id for r in members.results] == sorted(
        (json.loads(m)["headers"]["id"] for m in client.lrange(CELERY_SIDE, 0, -1)),
        key=[r.id for r in members.results].index,
    )
    own = group(ours.signature("wire.add", args=(i, i)) for i in range(2)).apply_async()
    assert not isinstance(own.results[0], CeleryResult)
    assert own.get(timeout=10) == [0, 2]


@pytest.mark.slow
def test_workflows_cross_both_ways_with_a_celery_worker(
    fleet: tuple[celery.Celery, Celery], celery_worker_process: subprocess.Popen[bytes]
) -> None:
    from celeriac.compat.canvas import chord, group

    theirs, ours = fleet
    double = ours.signature("wire.legacy_double")
    # celeriac's chain: a Celery worker doubles, then the bridge adds
    chained = (double.clone(args=(2,)) | ours.signature("wire.add", args=(1,))).apply_async()
    assert chained.get(timeout=15) == 5
    assert chained.parent is not None and chained.parent.get(timeout=5) == 4
    # a group on the Celery worker, and app.AsyncResult(id) reading Celery's backend
    members = group(double.clone(args=(i,)) for i in range(3)).apply_async()
    assert members.get(timeout=15) == [0, 2, 4]
    assert ours.AsyncResult(members.results[2].id).get(timeout=5) == 4
    # a chord whose header runs on both sides and whose body runs in celeriac
    mixed = chord(
        [double.clone(args=(5,)), ours.signature("wire.add", args=(1, 2))],
        ours.signature("wire.total"),
    )()
    assert mixed.get(timeout=15) == 13
    # a group followed by a step in a chain is a chord: the bridge sends it on, a Celery
    # worker runs its header, the bridge its body; then the other way round
    add, total = ours.signature("wire.add", args=(1,)), ours.signature("wire.total")
    first = ours.signature("wire.add", args=(1, 1))
    upgraded = (first | group(double, double) | total).apply_async()
    assert upgraded.get(timeout=15) == 8
    add_two = ours.signature("wire.add", args=(2,))
    reverse = (double.clone(args=(1,)) | group(add, add_two) | total).apply_async()
    assert reverse.get(timeout=15) == 7
    # the same from a Celery producer: header on both sides, body on the Celery worker
    theirs_mixed = celery.chord(
        [theirs.signature("wire.add", args=(2, 2)), theirs.signature("wire.legacy_double", (3,))]
    )(theirs.signature("wire.legacy_double"))
    assert theirs_mixed.get(timeout=15) == [4, 6, 4, 6]  # the results in order, doubled
    # errbacks of a task a Celery worker ran reach celeriac's errback tasks
    failed = ours.send_task(
        "wire.legacy_fail", args=("gone",), link_error=ours.signature("wire.record_error")
    )
    with pytest.raises(KeyError, match="gone"):
        ours.AsyncResult(failed.id).get(timeout=15)
    _until(lambda: ("old", failed.id) in RECORDED, 15)
    # celeriac's revoke reaches the Celery worker holding a task for later
    from celeriac.compat.exceptions import TaskRevokedError

    held = ours.send_task("wire.legacy_double", args=(1,), countdown=2)
    time.sleep(0.5)  # the Celery worker has it (held until its eta)
    held.revoke()
    with pytest.raises(TaskRevokedError):
        held.get(timeout=15)


def test_a_celery_callers_revoke_reaches_the_bridge(fleet: tuple[celery.Celery, Celery]) -> None:
    from celery.exceptions import TaskRevokedError

    theirs, ours = fleet
    probe = theirs.send_task("wire.add", args=(0, 0))
    assert probe.get(timeout=10) == 0  # the bridge is reading (and its mailbox listening)
    later = theirs.send_task("wire.add", args=(1, 1), countdown=3)
    _until(lambda: ours.AsyncResult(later.id).state != "PENDING" or _scheduled(ours, later.id))
    later.revoke()  # Celery's broadcast, through its mailbox
    with pytest.raises(TaskRevokedError):
        later.get(timeout=10)
    assert later.state == "REVOKED"
    time.sleep(3.2)  # past its countdown: it never ran
    assert ours.AsyncResult(later.id).state == "REVOKED"


def _scheduled(app: Celery, task_id: str) -> bool:
    from celeriac.compat.control import _run

    async def info(core: Any) -> Any:
        return await core.task_info(task_id)

    found = _run(app, info)
    return found is not None and found.place == "scheduled"


def test_messages_taken_but_not_stored_are_kept_for_kombu(redis_url: str, prefix: str) -> None:
    """celeriac's Redis is down: what the bridge took stays in kombu's unacked hash (in
    kombu's format, so kombu can restore it), and goes back to its list at the stop."""
    from celeriac.compat.celery_wire import CeleryConsumer

    client = redis.Redis.from_url(redis_url)
    client.delete(QUEUE, "unacked", "unacked_index")
    theirs = celery.Celery("wire", broker=redis_url, backend=redis_url, set_as_current=False)
    down = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    ours = make_app(down, prefix, celeriac_celery_broker_url=redis_url)

    @ours.task(name="wire.add")
    def add(x: int, y: int) -> int:
        return x + y

    sent = theirs.send_task("wire.add", args=(1, 2), queue=QUEUE)
    bridge = CeleryConsumer(ours, [QUEUE])
    bridge.start()
    try:
        _until(lambda: client.llen(QUEUE) == 0 and client.hlen("unacked") == 1)
        ((tag, kept),) = client.hgetall("unacked").items()
        message, exchange, routing_key = json.loads(kept)
        assert (message["headers"]["id"], exchange, routing_key) == (sent.id, "", QUEUE)
        assert client.zscore("unacked_index", tag) is not None
    finally:
        bridge.stop()
        ours.close()
    # stopped: back on its list, nothing left unacknowledged
    assert client.llen(QUEUE) == 1 and client.hlen("unacked") == 0
    assert client.zcard("unacked_index") == 0
    assert bridge.handed == 0
    # had the bridge died instead, kombu would have put it back from what it kept
    client.delete(QUEUE)
    client.hset("unacked", tag, kept)
    with theirs.connection_for_read() as connection:
        connection.default_channel.qos.restore_by_tag(tag.decode())
    theirs.close()
    (restored,) = client.lrange(QUEUE, 0, -1)
    assert json.loads(restored)["headers"]["id"] == sent.id and client.hlen("unacked") == 0


@pytest.mark.parametrize("kombus_own", [True, False], ids=["kombus-namer", "fallback"])
def test_the_bridge_reads_the_lists_kombu_writes_by_priority(
    redis_url: str, prefix: str, kombus_own: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Every priority a Celery caller gives lands in a list the bridge reads, whether the
    names come from kombu's channel (an undocumented method) or, where a kombu lacks it,
    from kombu's naming rule."""
    import kombu

    from celeriac.compat.celery_wire.consumer import priority_lists

    queue = f"{prefix}-prio"
    client = redis.Redis.from_url(redis_url)
    with kombu.Connection(redis_url) as connection:
        channel = connection.default_channel
        target = kombu.Queue(queue, routing_key=queue)
        with connection.Producer() as producer:
            for priority in range(10):
                producer.publish({"p": priority}, routing_key=queue, declare=[target],
                                 priority=priority)  # fmt: skip
        seen: Any = (
            channel
            if kombus_own
            else SimpleNamespace(sep=channel.sep, priority_steps=channel.priority_steps)
        )
        with caplog.at_level(logging.DEBUG, logger="celeriac"):
            lists = priority_lists(seen, queue)
    try:
        assert (" no _q_for_pri" in caplog.text) is not kombus_own
        written = {key.decode() for key in client.scan_iter(f"{queue}*")}
        assert written <= set(lists) and len(written) == len(lists)  # 0-2, 3-5, 6-8, 9
        assert lists[0] == queue
        assert sum(client.llen(name) for name in lists) == 10
    finally:
        client.delete(*lists)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_bridge_waits_for_celerys_redis(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Celery's Redis is unreachable: the bridge says so, tries again every second, and
    still stops at once."""
    from celeriac.compat.celery_wire import CeleryConsumer

    down = f"redis://127.0.0.1:{_free_port()}/0"
    ours = make_app(redis_url, prefix, celeriac_celery_broker_url=down)
    bridge = CeleryConsumer(ours, [QUEUE])
    with caplog.at_level("ERROR", logger="celeriac.worker"):
        bridge.start()
        _until(lambda: "reconnecting in 1 second" in caplog.text)
        started = time.monotonic()
        bridge.stop()
    assert time.monotonic() - started < 2.0
    assert bridge._thread is not None and not bridge._thread.is_alive()
    assert "Connection refused" in caplog.text or "Error 111" in caplog.text
    ours.close()


def test_threads_send_to_celery_at_once(
    fleet: tuple[celery.Celery, Celery], redis_url: str
) -> None:
    """A threaded producer (a web server's threads): each thread has its own kombu
    connection, and every message lands whole."""
    from concurrent.futures import ThreadPoolExecutor

    _, ours = fleet

    def send(i: int) -> str:
        return str(ours.send_task("wire.legacy_double", args=(i,)).id)

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(send, range(200)))
    client = redis.Redis.from_url(redis_url)
    raw = [json.loads(m) for m in client.lrange(CELERY_SIDE, 0, -1)]
    assert {m["headers"]["id"] for m in raw} == ids and len(raw) == 200
    args = sorted(json.loads(base64.b64decode(m["body"]))[0][0] for m in raw)
    assert args == list(range(200))
