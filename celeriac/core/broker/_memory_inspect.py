"""Introspection of the in-process broker (what ``_redis_inspect`` does on Redis)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import TYPE_CHECKING

from .base import Listed, TaskView, place_of

if TYPE_CHECKING:
    from .memory import MemoryBroker

__all__ = ["inspect_task", "list_tasks"]


def inspect_task(broker: MemoryBroker, task_id: str) -> TaskView | None:
    """Call with the broker's lock held."""
    record = broker._result_locked(task_id)
    if record is None:
        return None
    place = place_of(record.state)
    view = TaskView(task_id, record.state, record.queue, record.name, place, record.data)
    if place != "queued":
        return view
    delayed = broker._delayed.get(record.queue)
    for step in broker.priority_steps.steps:
        found = delayed.members.get(f"{step}:{task_id}") if delayed else None
        if found is not None:
            return replace(view, place="scheduled", due=found[0])
    waiting = broker._graph.waiting.get((record.queue, task_id))
    if waiting is not None:
        return replace(view, place="waiting", due=waiting.item.due)
    return view


def list_tasks(broker: MemoryBroker, queue: str, place: str, limit: int) -> list[Listed]:
    """Call with the broker's lock held."""
    if place == "scheduled":
        delayed = broker._delayed.get(queue)
        members = sorted(delayed.members.items(), key=lambda kv: kv[1][0]) if delayed else []
        return [
            Listed(place, member.split(":", 1)[1], data, due)
            for member, (due, _, data) in members[:limit]
        ]
    if place == "waiting":
        waiting = [w for (q, _), w in broker._graph.waiting.items() if q == queue]
        return [Listed(place, w.item.id, w.item.data, w.item.due) for w in waiting[:limit]]
    if place == "done":
        return [Listed(place, task_id) for task_id in list(broker._done.get(queue, ()))[:limit]]
    found: list[Listed] = []
    for step in broker.priority_steps.descending:
        stream = broker._streams.get((queue, step))
        if stream is None:
            continue
        if place == "queued":
            found += [Listed(place, None, stream.entries[tag]) for tag in stream.new]
        else:
            found += [
                Listed(place, None, stream.entries[tag], consumer=claim.consumer)
                for tag, claim in stream.pending.items()
                if tag in stream.entries
            ]
    return list(itertools.islice(found, limit))
