"""Introspection on Redis: where a task is, and the tasks of a queue by place.

Read-only, and each read stays within one queue's slot or one task's, so it works the
same on a single Redis and on a Cluster. Replies are read so that RESP2 and RESP3
shapes both work.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..keys import GROUP, MESSAGE_FIELD, Keys
from ._lua import MS, delayed_member, text
from .base import Listed, PrioritySteps, TaskView, place_of

__all__ = ["inspect_task", "list_tasks"]


async def inspect_task(
    client: Any, keys: Keys, steps: PrioritySteps, task_id: str
) -> TaskView | None:
    record = {text(k): v for k, v in (await client.hgetall(keys.result(task_id))).items()}
    if "s" not in record:
        return None
    state, queue = text(record["s"]), text(record.get("q", b""))
    name = text(record.get("n", b""))
    view = TaskView(task_id, state, queue, name, place_of(state), record.get("d"))
    if view.place != "queued" or not queue:
        return view
    pipe = client.pipeline(transaction=False)
    for step in steps.steps:
        pipe.zscore(keys.delayed(queue), delayed_member(step, task_id))
    pipe.hget(keys.waiting(queue), task_id)
    *scores, waiting = await pipe.execute()
    due = next((float(score) for score in scores if score is not None), None)
    if due is not None:
        return replace(view, place="scheduled", due=due / MS)
    if waiting is not None:
        return replace(view, place="waiting", due=_waiting_due(waiting))
    return view


def _waiting_due(item: bytes) -> float | None:
    """The due time inside a waiting hash's "step|due ms|envelope" (0: none)."""
    due = int(item.split(b"|", 2)[1])
    return due / MS if due else None


async def list_tasks(
    client: Any, keys: Keys, steps: PrioritySteps, *, queue: str, place: str, limit: int
) -> list[Listed]:
    if place == "scheduled":
        return await _scheduled(client, keys, queue, limit)
    if place == "waiting":
        return await _waiting(client, keys.waiting(queue), limit)
    if place == "done":
        ids = await client.lrange(keys.done(queue), 0, limit - 1)
        return [Listed(place, text(task_id)) for task_id in ids]
    read = _undelivered if place == "queued" else _taken
    found: list[Listed] = []
    for step in steps.descending:
        if len(found) >= limit:
            break
        found += await read(client, keys.stream(queue, step), limit - len(found))
    return found


async def _scheduled(client: Any, keys: Keys, queue: str, limit: int) -> list[Listed]:
    members = await client.zrange(keys.delayed(queue), 0, limit - 1, withscores=True)
    if not members:
        return []
    datas = await client.hmget(keys.delayed_data(queue), [m for m, _ in members])
    return [
        Listed("scheduled", text(member).split(":", 1)[1], data, float(score) / MS)
        for (member, score), data in zip(members, datas, strict=True)
    ]


async def _waiting(client: Any, key: str, limit: int) -> list[Listed]:
    found: list[Listed] = []
    cursor: Any = 0
    while len(found) < limit:
        cursor, items = await client.hscan(key, cursor, count=limit)
        for task_id, item in items.items():
            envelope = item.split(b"|", 2)[2]
            found.append(Listed("waiting", text(task_id), envelope, _waiting_due(item)))
        if not int(cursor):
            break
    return found[:limit]


async def _undelivered(client: Any, stream: str, count: int) -> list[Listed]:
    """Entries after the group's last delivered one: not yet taken by any worker."""
    last = None
    if await client.exists(stream):
        for group in await client.xinfo_groups(stream):
            if text(group["name"]) == GROUP:
                last = text(group["last-delivered-id"])
    entries = await client.xrange(stream, min=f"({last}" if last else "-", count=count)
    return [Listed("queued", None, _message(fields)) for _, fields in entries]


async def _taken(client: Any, stream: str, count: int) -> list[Listed]:
    """Entries a consumer holds (running, or fetched and about to run)."""
    if not await client.exists(stream):
        return []
    try:
        pending = await client.xpending_range(stream, GROUP, "-", "+", count)
    except Exception as exc:  # no group yet: nothing was ever taken
        if "NOGROUP" in str(exc):
            return []
        raise
    if not pending:
        return []
    pipe = client.pipeline(transaction=False)
    for entry in pending:
        pipe.xrange(stream, entry["message_id"], entry["message_id"])
    found = []
    for entry, reply in zip(pending, await pipe.execute(), strict=True):
        if reply:  # acknowledged meanwhile: gone
            fields = reply[0][1]
            found.append(
                Listed("running", None, _message(fields), consumer=text(entry["consumer"]))
            )
    return found


def _message(fields: Any) -> bytes | None:
    named = {text(k): v for k, v in fields.items()}
    data: bytes | None = named.get(MESSAGE_FIELD)
    return data
