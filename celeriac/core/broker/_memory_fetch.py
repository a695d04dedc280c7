"""Fetching from the in-process broker: due delays promoted, then messages claimed by
priority step (what ``fetch.lua`` does on Redis). Called with the broker's lock held."""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._memory_state import Claim
from .base import Delivery

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["take"]


def _promote(broker: MemoryBroker, queue: str, now: float) -> float | None:
    """Move due delayed messages to their streams; seconds until the next is due."""
    delayed = broker._delayed.get(queue)
    if delayed is None:
        return None
    while delayed.heap:
        due, _, member = delayed.heap[0]
        current = delayed.members.get(member)
        if current is None or current[0] != due:
            heapq.heappop(delayed.heap)  # removed, or sent again with another due time
            continue
        if due > now:
            return due - now
        heapq.heappop(delayed.heap)
        _, step, data = delayed.members.pop(member)
        broker._append(queue, step, data)
    return None


def _read_queue(broker: MemoryBroker, queue: str, consumer: str, n: int) -> list[Delivery]:
    out: list[Delivery] = []
    for step in broker.priority_steps.descending:
        stream = broker._streams.get((queue, step))
        while stream is not None and stream.new and len(out) < n:
            tag = stream.new.popleft()
            if tag in stream.entries:
                stream.pending[tag] = Claim(consumer)
                out.append(Delivery(queue, step, tag, stream.entries[tag]))
    return out


def take(
    broker: MemoryBroker, queues: Sequence[str], consumer: str, count: int, strict: bool
) -> tuple[list[Delivery], float | None]:
    """Promote due delays and claim up to ``count`` messages (higher steps first, the
    queues in turn unless ``strict``); also the seconds until the next delay is due."""
    now = time.time()
    waits = [w for w in (_promote(broker, q, now) for q in queues) if w is not None]
    order = list(queues)
    if not strict and len(queues) > 1:
        broker._turn = (broker._turn + 1) % len(queues)
        order = [*queues[broker._turn :], *queues[: broker._turn]]
    out: list[Delivery] = []
    if not strict and len(order) > 1:
        share = -(-count // len(order))
        for queue in order:
            out += _read_queue(broker, queue, consumer, min(share, count - len(out)))
    for queue in order:
        out += _read_queue(broker, queue, consumer, count - len(out))
    return out, min(waits, default=None)
