"""Recovery in the in-process broker: liveness, taking over a dead consumer's messages,
dead letters and revocation (what ``reclaim.lua``, ``heartbeat.lua`` and
``revoke.lua`` do on Redis). Every function here is called with the broker's lock held.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ._memory_state import Stream, new_tag
from .base import DeadLetter, Delivery, Recovery

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["dead_letter", "heartbeat", "reclaim", "requeue_dead", "take_out"]


def heartbeat(
    broker: MemoryBroker,
    consumer: str,
    queues: Sequence[str],
    holding: Sequence[Delivery],
    ttl: float,
) -> list[Delivery]:
    """Mark ``consumer`` alive and refresh what it holds; returns what it lost."""
    now = time.monotonic()
    lost = []
    for queue in queues:
        broker._alive.setdefault(queue, {})[consumer] = now + ttl
    for delivery in holding:
        claim = broker._stream(delivery.queue, delivery.step).pending.get(delivery.tag)
        if claim is None or claim.consumer != consumer:
            lost.append(delivery)
        else:
            claim.since = now
    return lost


def reclaim(
    broker: MemoryBroker, queues: Sequence[str], consumer: str, count: int, recovery: Recovery
) -> tuple[list[Delivery], int]:
    taken: list[Delivery] = []
    dead = 0
    for queue in queues:
        alive = _prune_alive(broker, queue)
        for step in broker.priority_steps.descending:
            stream = broker._streams.get((queue, step))
            if stream is None:
                continue
            for tag in _takeable(stream, alive, recovery):
                if len(taken) >= count:
                    return taken, dead
                got = _take(
                    broker, Delivery(queue, step, tag, stream.entries[tag]), consumer, recovery
                )
                if got is None:
                    dead += 1
                else:
                    taken.append(got)
    return taken, dead


def _prune_alive(broker: MemoryBroker, queue: str) -> dict[str, float]:
    alive = broker._alive.setdefault(queue, {})
    now = time.monotonic()
    for name in [n for n, deadline in alive.items() if deadline <= now]:
        del alive[name]
    return alive


def _takeable(stream: Stream, alive: dict[str, float], recovery: Recovery) -> list[str]:
    """Tags whose consumer is not alive, or that nobody refreshed within the window."""
    now = time.monotonic()
    return [
        tag
        for tag, claim in stream.pending.items()
        if now - claim.since >= recovery.grace
        and (claim.consumer not in alive or now - claim.since >= recovery.window)
    ]


def _take(
    broker: MemoryBroker, delivery: Delivery, consumer: str, recovery: Recovery
) -> Delivery | None:
    """Claim one message for ``consumer``; None when it was dead-lettered instead."""
    claim = broker._streams[(delivery.queue, delivery.step)].pending[delivery.tag]
    if claim.deliveries >= recovery.max_deliveries:
        error = f"delivered {claim.deliveries} times without ever finishing"
        dead_letter(broker, delivery, "too-many-deliveries", error)
        return None
    claim.consumer, claim.since = consumer, time.monotonic()
    claim.deliveries += 1
    return replace(delivery, deliveries=claim.deliveries)


def dead_letter(broker: MemoryBroker, delivery: Delivery, reason: str, error: str) -> None:
    tag = new_tag()
    letter = DeadLetter(
        tag,
        delivery.queue,
        delivery.step,
        delivery.data,
        reason,
        error,
        time.time(),
        dict(delivery.raw),
    )
    broker._dead.setdefault(delivery.queue, {})[tag] = letter
    broker._ack_locked(delivery)


def requeue_dead(broker: MemoryBroker, queue: str, ids: Sequence[str] | None) -> int:
    letters = broker._dead.get(queue, {})
    wanted = letters if ids is None else dict.fromkeys(ids)
    chosen = [i for i in wanted if i in letters]
    for tag in chosen:
        letter = letters.pop(tag)
        if letter.data is not None:
            known = letter.step in broker.priority_steps.steps
            step = letter.step if known else broker.priority_steps.steps[0]
            broker._append(queue, step, letter.data)
    return len(chosen)


def take_out(broker: MemoryBroker, task_id: str) -> str:
    """Remove a revoked task from its delayed set or the graph's waiting place; returns
    where it was ("delayed", "waiting", or "" when in neither)."""
    record = broker._result_locked(task_id)
    if record is None:
        return ""
    delayed = broker._delayed.get(record.queue)
    for step in broker.priority_steps.steps:
        member = f"{step}:{task_id}"
        if delayed is not None and member in delayed.members:
            del delayed.members[member]  # its heap entry is skipped when reached
            return "delayed"
    if broker._graph.withdraw(record.queue, task_id):
        return "waiting"
    return ""
