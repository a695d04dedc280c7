"""Bad input never runs, never crashes the worker, and never disappears: each bad
message gets a log line and a dead letter that can be listed and requeued, while the
good messages around it are processed."""

from __future__ import annotations

import logging

import anyio
import pytest

from celeriac.core import App, Broker, Codec, TaskMessage
from celeriac.core.broker import Outgoing
from tests.core.worker.helpers import drain

pytestmark = pytest.mark.anyio

KEY = ("k1", b"k" * 32)
OTHER_KEY = ("k1", b"x" * 32)


def _around(app: App) -> tuple[list[int], object]:
    """A good task to enqueue before and after the bad message."""
    done: list[int] = []

    @app.task(name="good")
    async def good(n: int) -> int:
        done.append(n)
        return n

    return done, good


async def _send_raw(app: App, data: bytes, task_id: str = "raw") -> None:
    await app.broker.send([Outgoing(task_id, app.default_queue, 0, data)])


async def _sandwich(app: App, bad: bytes) -> list[int]:
    done, good = _around(app)
    await good.enqueue(1)  # type: ignore[attr-defined]
    await _send_raw(app, bad)
    await good.enqueue(2)  # type: ignore[attr-defined]
    await drain(app)
    return done


async def test_garbage_bytes_are_dead_lettered(app: App, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="celeriac"):
        done = await _sandwich(app, b"\x00garbage\xff")
    assert sorted(done) == [1, 2]
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert letter.data == b"\x00garbage\xff"
    assert letter.reason == "DecodeError" and "not a celeriac envelope" in letter.error
    assert "Moved to its dead letters" in caplog.text
    stats = await app.broker.stats(app.default_queue)
    assert (stats.ready, stats.in_flight, stats.dead) == (0, 0, 1)


async def test_unknown_task_is_dead_lettered_and_runs_after_requeue(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    message = TaskMessage(name="proj.not_yet_deployed", args=(5,))
    await app.send([message])
    with caplog.at_level(logging.ERROR, logger="celeriac"):
        await drain(app)
    assert "Received unregistered task of type 'proj.not_yet_deployed'" in caplog.text
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert letter.reason == "unregistered"

    @app.task(name="proj.not_yet_deployed")
    async def deployed(n: int) -> int:
        return n * 2

    assert await app.broker.requeue_dead(app.default_queue) == 1
    await drain(app)
    assert await app.handle(message.id).result(timeout=1) == 10
    assert await app.broker.dead_letters(app.default_queue) == []


async def test_arguments_that_do_not_decode(app: App) -> None:
    codec = Codec()
    body = b'{"id":"x","task":"good","args":[{"__type__":"datetime","__value__":"not a date"}]}'
    bad = codec._header + body  # a well-formed envelope around a bad argument
    done = await _sandwich(app, bad)
    assert sorted(done) == [1, 2]
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert letter.reason == "DecodeError" and "cannot deserialize 'json'" in letter.error


async def test_malformed_message_fields(app: App) -> None:
    bad = Codec().encode({"id": "x", "task": "good", "args": "not a list"})
    await _sandwich(app, bad)
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert "'args' has type str" in letter.error


async def test_content_type_not_accepted(app: App) -> None:
    pickled = TaskMessage(name="good", args=(1,)).encode(Codec("pickle", ("pickle",)))
    await _sandwich(app, pickled)
    (letter,) = await app.broker.dead_letters(app.default_queue)
    assert letter.reason == "ContentDisallowed"


async def test_bad_signature_is_never_executed(broker: Broker) -> None:
    worker_app = App(broker, signing_keys=[KEY])
    forger = App(broker, signing_keys=[OTHER_KEY])
    ran: list[str] = []

    for application in (worker_app, forger):

        @application.task(name="transfer")
        async def transfer(who: str) -> None:
            ran.append(who)

    forged = await forger.tasks["transfer"].enqueue("mallory")
    unsigned = TaskMessage(name="transfer", args=("eve",))
    await App(broker).send([unsigned])
    genuine = await worker_app.tasks["transfer"].enqueue("alice")
    await drain(worker_app)
    assert ran == ["alice"]
    assert await genuine.state() == "SUCCESS"
    assert await forged.record() is None
    letters = await broker.dead_letters(worker_app.default_queue)
    reasons = sorted((letter.reason, letter.error.split(":")[0]) for letter in letters)
    assert reasons == [
        ("SignatureError", "bad signature for key id 'k1'"),
        ("SignatureError", "unsigned message refused"),
    ]


async def test_oversized_message_is_refused_by_the_producer_and_the_worker(broker: Broker) -> None:
    small = App(broker, max_message_size=300)

    @small.task(name="big")
    async def big(blob: str) -> int:
        return len(blob)

    from celeriac.core import EncodeError

    with pytest.raises(EncodeError, match="over the 300-byte limit"):
        await big.enqueue("x" * 1000)
    await App(broker).send([TaskMessage(name="big", args=("x" * 1000,))])
    await drain(small)
    (letter,) = await broker.dead_letters(small.default_queue)
    assert "over the 300-byte limit" in letter.error


async def test_dead_letters_can_be_requeued_by_id(app: App) -> None:
    await _send_raw(app, b"one", "1")
    await _send_raw(app, b"two", "2")
    await drain(app)
    first, second = await app.broker.dead_letters(app.default_queue)
    assert await app.broker.requeue_dead(app.default_queue, [second.id]) == 1
    (left,) = await app.broker.dead_letters(app.default_queue)
    assert left.id == first.id
    await drain(app)  # dead-letters "two" again
    assert len(await app.broker.dead_letters(app.default_queue)) == 2


async def test_task_that_breaks_the_result_serializer_fails_cleanly(app: App) -> None:
    @app.task
    async def returns_object() -> object:
        return object()

    handle = await returns_object.enqueue()
    await drain(app)
    from celeriac.core import EncodeError

    with pytest.raises(EncodeError, match="cannot serialize result"):
        await handle.result(timeout=1)


async def test_a_bad_message_in_a_batch_does_not_stall_the_others(app: App) -> None:
    done, good = _around(app)
    for n in range(50):
        await good.enqueue(n)  # type: ignore[attr-defined]
        if n % 10 == 0:
            await _send_raw(app, b"junk")
    with anyio.fail_after(10):
        await drain(app)
    assert sorted(done) == list(range(50))
    assert len(await app.broker.dead_letters(app.default_queue)) == 5
