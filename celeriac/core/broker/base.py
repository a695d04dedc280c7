"""The `Broker` protocol: the narrow interface the producer and worker need.

A broker moves opaque envelopes (bytes); it never decodes them. Two implementations
satisfy it and share one contract test suite: `RedisBroker` and `MemoryBroker`.

Delivery contract: a fetched message belongs to its consumer until `finish` (outcome
recorded, then acknowledged, in one atomic step) or `nack` (back to its queue). Each
queue has one stream per priority step; a higher step is served first.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .periodic import PeriodicStore

__all__ = [
    "DEFAULT_PRIORITY_STEPS",
    "EVENTS_MAXLEN",
    "PLACES",
    "RECENT_DONE",
    "Broker",
    "Completion",
    "DeadLetter",
    "Delivery",
    "Listed",
    "Outgoing",
    "PrioritySteps",
    "QueueStats",
    "Recovery",
    "SyncBroker",
    "TaskView",
    "event_id_key",
]

DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)


@dataclass(frozen=True)
class PrioritySteps:
    """Buckets priorities into the streams of a queue: a priority goes to the highest
    step not above it (lower priorities go to the lowest step); higher steps run first."""

    steps: tuple[int, ...] = DEFAULT_PRIORITY_STEPS

    def __post_init__(self) -> None:
        if not self.steps or list(self.steps) != sorted(set(self.steps)):
            raise ConfigurationError(
                f"priority steps must be a non-empty increasing sequence, got {self.steps!r}"
            )

    def step_for(self, priority: int) -> int:
        index = bisect.bisect_right(self.steps, priority) - 1
        return self.steps[max(index, 0)]

    @property
    def descending(self) -> tuple[int, ...]:
        return tuple(reversed(self.steps))


@dataclass(frozen=True)
class Outgoing:
    """A message on its way to a queue; ``due`` (POSIX seconds) delays it.

    Sending also marks the task PENDING in its result record (for ``result_ttl`` seconds
    past ``due``), unless a record exists. With ``parents``, the message waits until they
    have finished (see the graph in ``commit.lua``), then ``after_delay`` seconds more.
    With ``unique`` (a lock name), it is sent only when no other task holding that lock
    is queued or running.
    """

    id: str
    queue: str
    priority: int
    data: bytes
    due: float | None = None
    name: str = ""
    parents: tuple[str, ...] = ()
    result_ttl: float | None = 24 * 3600.0
    unique: str = ""
    after_delay: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """A message a consumer received and owns until it is finished or nacked.

    ``data`` is None when the stored entry had no message field at all (written by
    something other than celeriac); ``raw`` then holds what the entry did contain.
    ``deliveries`` counts how many times it has been handed to a consumer: more than one
    means a worker took it over from another that died or lost it.
    """

    queue: str
    step: int
    tag: str
    data: bytes | None
    raw: Mapping[str, bytes] = field(default_factory=dict)
    deliveries: int = 1


@dataclass(frozen=True)
class Completion:
    """The outcome of a delivery: a result to store (``state``, and the encoded record in
    ``result``, or only the state when None) and optionally a follow-up message (a
    retry), recorded together with the acknowledgement. A final state releases the
    tasks waiting on this one."""

    delivery: Delivery
    result_id: str | None = None
    result: bytes | None = None
    result_ttl: float | None = None
    then: Outgoing | None = None
    state: str | None = None  # the result's state; None: store nothing
    unique: str = ""  # the lock a unique task holds: released with a final state


@dataclass(frozen=True)
class DeadLetter:
    """A message set aside because it could not be run; it can be requeued."""

    id: str
    queue: str
    step: int
    data: bytes | None
    reason: str
    error: str
    time: float
    raw: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Recovery:
    """When messages are taken over from other consumers (see :meth:`Broker.reclaim`).

    ``window``: seconds after which a message nobody refreshed is taken, even from a live
    consumer. ``grace``: a message idle for less is never taken.
    ``max_starts``: a message whose task was started this many times without finishing
    (each time its worker died) goes to the dead letters instead of being started again:
    it probably kills workers. Only starts count, so messages that merely waited in a
    dying worker's prefetch are not held against.
    ``max_deliveries``: a backstop for messages handed out this many times without ever
    starting.
    """

    window: float = 60.0
    grace: float = 1.0
    max_starts: int = 3
    max_deliveries: int = 25


# where a task can be, for introspection (see Broker.list_tasks)
PLACES = ("queued", "scheduled", "waiting", "running", "done")
RECENT_DONE = 1000  # how many finished task ids each queue remembers, newest first


# about how many task events the events stream keeps (older ones are trimmed)
EVENTS_MAXLEN = 10_000

_EVENT_ID = re.compile(r"(\d{1,20})(?:-(\d{1,20}))?\Z")


def event_id_key(after: str) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``, or ``<ms>``; ``"0"`` is before every entry) as
    a sortable pair; a ConfigurationError when it is not one."""
    found = _EVENT_ID.match(after)
    if found is None:
        raise ConfigurationError(
            f"invalid event id {after!r}: use '$' (new events), '0' (the oldest kept) "
            "or an id read from the stream ('<ms>-<seq>')"
        )
    return int(found[1]), int(found[2] or 0)


# states after which a task is done: its dependents and unique lock are released
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED", "REJECTED"})


def place_of(state: str) -> str:
    """Where a task is, as far as its state tells (a queued one may also be scheduled or
    waiting: the broker looks)."""
    if state in FINAL_STATES:
        return "done"
    return "running" if state == "STARTED" else "queued"


@dataclass(frozen=True)
class Listed:
    """A task found in a queue by :meth:`Broker.list_tasks`: its message (``data``;
    None for ``done``, which knows only ids), when it is due (``scheduled``, and
    ``waiting`` with a delay) and which consumer holds it (``running``)."""

    place: str
    task_id: str | None = None
    data: bytes | None = None
    due: float | None = None
    consumer: str | None = None


@dataclass(frozen=True)
class TaskView:
    """What the broker knows of one task: its record and where it is."""

    id: str
    state: str
    queue: str
    name: str
    place: str
    result: bytes | None = None
    due: float | None = None


@dataclass(frozen=True)
class QueueStats:
    """Counts for one queue: waiting to be fetched, fetched but not finished,
    delayed until a later time, and dead-lettered."""

    ready: int
    in_flight: int
    delayed: int
    dead: int


@runtime_checkable
class Broker(Protocol):
    """What the async producer and the worker need from a broker."""

    priority_steps: PrioritySteps

    @property
    def periodic(self) -> PeriodicStore:
        """Periodic entries and their state (see ``periodic.py``)."""

    async def send(self, items: Sequence[Outgoing]) -> dict[str, str]:
        """Enqueue messages (delayed ones when ``due`` is in the future), one round trip.
        Returns the unique ones not sent: their id -> the id of the instance holding
        the lock."""

    async def fetch(
        self, queues: Sequence[str], consumer: str, count: int, timeout: float, strict: bool
    ) -> list[Delivery]:
        """Up to ``count`` messages, higher priority first within a queue; queues are
        served in turn (or in the given order when ``strict``). Delayed messages that
        are due are moved to their queue first. Waits up to ``timeout`` seconds when none
        is ready, returning early when a delayed message falls due."""

    async def finish(self, items: Sequence[Completion]) -> None:
        """Store results, send follow-ups and acknowledge: each item atomically."""

    async def nack(self, deliveries: Sequence[Delivery]) -> None:
        """Give deliveries back to their queues, to be fetched again."""

    async def dead_letter(self, delivery: Delivery, reason: str, error: str) -> None:
        """Move a delivery to its queue's dead letters and acknowledge it, atomically."""

    async def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of a queue."""

    async def requeue_dead(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Put dead letters (all, or those ids) back on their queue; returns how many."""

    async def purge(self, queue: str) -> int:
        """Remove the messages of ``queue`` waiting to be fetched, and its delayed ones;
        not those a worker holds, waiting for parents, or dead-lettered. Returns how
        many were removed."""

    async def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None:
        """Store a result outside a completion (a STARTED state, say) and announce it."""

    async def get_result(self, task_id: str) -> bytes | None:
        """The stored result envelope, or None."""

    async def get_results(self, task_ids: Sequence[str]) -> list[bytes | None]:
        """The stored result envelopes of many tasks, in one round trip."""

    async def get_state(self, task_id: str) -> str | None:
        """The task's state (PENDING from the moment it was sent), or None if unknown."""

    async def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None:
        """Wait (without polling) until a result other than ``previous`` is stored and
        return it; None on timeout."""

    async def heartbeat(
        self, consumer: str, queues: Sequence[str], holding: Sequence[Delivery], ttl: float
    ) -> list[Delivery]:
        """Mark ``consumer`` alive on ``queues`` for ``ttl`` seconds and refresh the
        messages it holds, so no one takes them. Returns those it no longer owns."""

    async def reclaim(
        self, queues: Sequence[str], consumer: str, count: int, recovery: Recovery
    ) -> tuple[list[Delivery], int]:
        """Take over up to ``count`` messages whose consumer is dead (no heartbeat) or
        that nobody refreshed within ``recovery.window``; dead-letter those delivered
        ``recovery.max_deliveries`` times. Returns (taken, how many dead-lettered)."""

    async def count_start(self, delivery: Delivery) -> int:
        """Count a start of a message delivered before (``deliveries > 1``); returns how
        many times it was started again since it was first delivered."""

    async def revoke(self, task_ids: Sequence[str], ttl: float) -> list[str]:
        """Revoke tasks for ``ttl`` seconds: remember it, tell the listening workers, and
        take out of their waiting places those that have not reached a queue. Returns,
        per id, where it was taken from: "delayed", "waiting", or "" (a queued or
        running task: the workers stop it)."""

    async def revoked(self) -> set[str]:
        """The ids revoked and not expired."""

    async def listen_control(
        self, on_message: Callable[[bytes], None], subscribed: Callable[[], None] | None = None
    ) -> None:
        """Call ``on_message`` with every control message (until cancelled); call
        ``subscribed`` once listening, when every message published later is heard."""

    async def publish_control(self, message: bytes) -> int:
        """Send ``message`` to every worker listening on the control channel; returns
        how many listeners heard it (-1: not known, on a Cluster)."""

    async def reply(self, request_id: str, data: bytes, ttl: float) -> None:
        """A worker's reply to control request ``request_id``, kept ``ttl`` seconds."""

    async def replies(self, request_id: str, expected: int | None, timeout: float) -> list[bytes]:
        """The replies to ``request_id``, as they come: until ``expected`` came, or for
        ``timeout`` seconds."""

    async def announce(self, consumer: str, info: bytes, ttl: float) -> None:
        """Publish a live worker's info for ``ttl`` seconds (renewed by heartbeats)."""

    async def withdraw(self, consumer: str) -> None:
        """Remove a worker's info: it stopped."""

    async def workers(self) -> list[bytes]:
        """The info of every live worker."""

    async def list_tasks(self, queue: str, place: str, limit: int) -> list[Listed]:
        """Up to ``limit`` tasks of a queue in one of ``PLACES``: queued (in order),
        scheduled (soonest first), waiting for parents, running (taken by a worker) or
        done (the most recent first)."""

    async def inspect_task(self, task_id: str) -> TaskView | None:
        """A task's record and place, or None when there is no record."""

    async def stats(self, queue: str) -> QueueStats:
        """Counts of ready, in-flight, delayed and dead messages."""

    async def publish_events(self, events: Sequence[bytes]) -> None:
        """Append encoded task events to the events stream, in order, in one round trip;
        the stream keeps about the last ``EVENTS_MAXLEN``."""

    async def read_events(self, after: str, count: int, timeout: float) -> list[tuple[str, bytes]]:
        """Up to ``count`` events (entry id, data) after the entry id ``after``: ``"$"``
        only those added from now on, ``"0"`` from the oldest kept. Waits up to
        ``timeout`` seconds (without polling) when there are none; may return empty
        sooner."""

    async def last_event_id(self) -> str:
        """The id of the newest event kept (``"0-0"`` when there is none): where a
        reader that wants only new events starts, so none falls between two reads."""

    async def aclose(self) -> None:
        """Close this event loop's connections."""

    def sync(self) -> SyncBroker:
        """The blocking twin of this broker, for sync producers (thread-safe)."""


@runtime_checkable
class SyncBroker(Protocol):
    """The blocking subset used from sync code: send, read results, look at a queue.
    Thread-safe."""

    priority_steps: PrioritySteps

    def send(self, items: Sequence[Outgoing]) -> dict[str, str]: ...

    def store_result(self, task_id: str, state: str, data: bytes, ttl: float | None) -> None: ...

    def get_result(self, task_id: str) -> bytes | None: ...

    def get_state(self, task_id: str) -> str | None: ...

    def forget(self, task_id: str) -> None:
        """Delete a task's result record (its state reads as unknown again)."""

    def wait_result(
        self, task_id: str, timeout: float | None, previous: bytes | None = None
    ) -> bytes | None: ...

    def stats(self, queue: str) -> QueueStats: ...

    def dead_letters(self, queue: str, count: int = 100) -> list[DeadLetter]: ...

    def close(self) -> None: ...
