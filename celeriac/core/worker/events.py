"""The events publisher: a worker's task events (``Worker(events=True)``, Celery's
``-E``), held in memory and sent in batches by one task of the worker.

Events are best effort. Telling one never waits and never raises, so no task is slowed
or failed by them. A batch leaves every ``FLUSH_EVERY`` seconds, or as soon as
``FLUSH_AT`` events wait, in one ``publish_events`` call. While the broker cannot take
them, at most ``MAX_HELD`` are kept (the oldest are dropped) and sent once it is back;
each such outage logs one warning with the number dropped. A clean stop sends what is
left, waiting at most ``FINAL_FLUSH`` seconds.
"""

from __future__ import annotations

import reprlib
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ..broker import Broker
from ..errors import Retry
from ..events import (
    TASK_FAILED,
    TASK_RECEIVED,
    TASK_RETRIED,
    TASK_REVOKED,
    TASK_STARTED,
    TASK_SUCCEEDED,
    TaskEvent,
)
from ..logs import worker_logger as logger
from ..message import TaskMessage
from .backoff import Backoff

__all__ = ["EventPublisher", "publishing"]

FLUSH_EVERY = 0.1  # seconds between batches
FLUSH_AT = 200  # events waiting that make a batch leave at once
MAX_HELD = 10_000  # events kept while the broker cannot take them
MAX_PUBLISH = 1_000  # events per publish_events call
FINAL_FLUSH = 2.0  # seconds a clean stop gives the last batch
REPR_LIMIT = 1_024  # characters of a repr (arguments, result, exception)


def _bounded_repr() -> reprlib.Repr:
    """reprlib's repr, with room enough for a monitor (it stops early on big values)."""
    bounded = reprlib.Repr()
    for name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset"):
        setattr(bounded, name, 20)
    bounded.maxdeque = 20
    bounded.maxlevel = 6
    bounded.maxlong = 100
    bounded.maxstring = bounded.maxother = REPR_LIMIT
    return bounded


_repr = _bounded_repr()


def short(value: Any) -> str:
    """A bounded repr that never raises (a task's value may have a broken ``__repr__``)."""
    try:
        text = _repr.repr(value)
    except Exception as exc:  # the user's __repr__: its failure is no reason to fail
        text = f"<unrepresentable {type(value).__qualname__}: {type(exc).__name__}>"
    return text if len(text) <= REPR_LIMIT else text[: REPR_LIMIT - 3] + "..."


@asynccontextmanager
async def publishing(
    broker: Broker, worker: str, *, enabled: bool
) -> AsyncIterator[EventPublisher | None]:
    """A publisher flushing in the background while the block runs (None when events
    are off); what is left is sent when the block ends."""
    if not enabled:
        yield None
        return
    publisher = EventPublisher(broker, worker)
    async with anyio.create_task_group() as tg:
        tg.start_soon(publisher.run)
        try:
            yield publisher
        finally:
            publisher.close()


class EventPublisher:
    """Holds the events of one worker (consumer name ``worker``) until they are sent."""

    def __init__(self, broker: Broker, worker: str, *, limit: int = MAX_HELD) -> None:
        self.broker = broker
        self.worker = worker
        self.limit = limit
        self._held: deque[bytes] = deque()
        self._wake = anyio.Event()
        self._closing = False
        self._failing_since: float | None = None  # the outage under way, if any
        self._backoff = Backoff()
        self._retry_in = FLUSH_EVERY
        self._dropped = 0
        self._sending: anyio.CancelScope | None = None  # the batch going out, if any

    def __len__(self) -> int:
        """Events waiting to be sent."""
        return len(self._held)

    # -- what happened: called by the runner, never waits, never raises ----------------

    def received(self, m: TaskMessage) -> None:
        self._emit(TASK_RECEIVED, m, lambda: _received_fields(m))

    def started(self, m: TaskMessage) -> None:
        self._emit(TASK_STARTED, m, dict)

    def succeeded(self, m: TaskMessage, value: Any, runtime: float) -> None:
        self._emit(TASK_SUCCEEDED, m, lambda: {"result": short(value), "runtime": runtime})

    def failed(self, m: TaskMessage, exc: BaseException, text: str | None) -> None:
        self._emit(TASK_FAILED, m, lambda: {"exception": short(exc), "traceback": text})

    def retried(self, m: TaskMessage, retry: Retry) -> None:
        self._emit(TASK_RETRIED, m, lambda: _retried_fields(retry))

    def revoked(self, m: TaskMessage, *, terminated: bool, expired: bool) -> None:
        self._emit(TASK_REVOKED, m, lambda: {"terminated": terminated, "expired": expired})

    def _emit(self, kind: str, m: TaskMessage, fields: Callable[[], Mapping[str, Any]]) -> None:
        try:
            event = TaskEvent(kind, m.id, m.name, m.queue, self.worker, time.time(), fields())
            data = event.encode()
        except Exception as exc:  # a bug of ours must not fail the task
            logger.warning("Cannot make the %s event of task %s: %r", kind, m.id, exc)
            return
        if len(self._held) >= self.limit:
            self._held.popleft()
            self._dropped += 1
        self._held.append(data)
        if len(self._held) >= FLUSH_AT and self._failing_since is None:
            self._wake.set()

    # -- sending ------------------------------------------------------------------------

    async def run(self) -> None:
        """Send batches until :meth:`close`, then what is left (briefly)."""
        while not self._closing:
            failing = self._failing_since is not None
            with anyio.move_on_after(self._retry_in if failing else FLUSH_EVERY):
                await self._wake.wait()
            self._wake = anyio.Event()
            with anyio.CancelScope() as self._sending:
                await self.flush()
            self._sending = None
        with anyio.move_on_after(FINAL_FLUSH):
            await self.flush()
        lost = self._dropped + len(self._held)
        if lost:
            logger.warning(
                "%d task event(s) could not be published before the worker stopped.", lost
            )

    def close(self) -> None:
        """Stop after one last flush."""
        self._closing = True
        self._wake.set()
        if self._sending is not None:  # a batch under way (Redis may hang): not for long
            self._sending.deadline = min(self._sending.deadline, anyio.current_time() + FINAL_FLUSH)

    async def flush(self) -> None:
        """Send every held event, a batch per call; on a failure keep them for later."""
        while self._held:
            count = min(MAX_PUBLISH, len(self._held))
            batch = [self._held.popleft() for _ in range(count)]
            sent = False
            try:
                await self.broker.publish_events(batch)
                sent = True
            except Exception as exc:  # best effort: nothing here may stop the worker
                self._failed(exc)
                return
            finally:
                if not sent:  # failed, or cancelled (a stop): keep it, oldest first
                    self._hold_again(batch)
            self._published()

    def _hold_again(self, batch: list[bytes]) -> None:
        self._held.extendleft(reversed(batch))
        while len(self._held) > self.limit:
            self._held.popleft()
            self._dropped += 1

    def _failed(self, exc: Exception) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self._backoff = Backoff(first=0.5, cap=5.0)
            logger.info(
                "Cannot publish task events: %s. Holding up to %d until the broker is back.",
                exc,
                self.limit,
            )
        self._retry_in = self._backoff.next()

    def _published(self) -> None:
        """A batch went out: the end of an outage (or of a flood) is reported once."""
        if self._failing_since is None and not self._dropped:
            return
        held = time.monotonic() - (self._failing_since or time.monotonic())
        logger.warning(
            "Task events could not be published for %.1f seconds: %d dropped (a worker "
            "holds at most %d), the rest sent late.",
            held,
            self._dropped,
            self.limit,
        )
        self._failing_since = None
        self._dropped = 0


def _received_fields(m: TaskMessage) -> dict[str, Any]:
    return {
        "args": short(m.args),
        "kwargs": short(dict(m.kwargs)),
        "retries": m.retries,
        "eta": m.eta,
        "expires": m.expires,
        "root_id": m.root_id,
        "parent_id": m.parent_id,
    }


def _retried_fields(retry: Retry) -> dict[str, Any]:
    """The error that made the task retry, with its traceback; a bare ``Retry`` is no
    error: its repr only."""
    exc = retry.exc
    if exc is None:
        return {"exception": short(retry), "traceback": None}
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"exception": short(exc), "traceback": text}
