"""The task events stream on Redis: one stream, ``<prefix>:{events}`` (one Cluster
slot), capped near ``EVENTS_MAXLEN`` entries. Appends are plain XADDs in a pipeline;
readers use XREAD, blocking when nothing is new."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..keys import EVENT_FIELD
from ._redis_base import stream_entries
from .base import EVENTS_MAXLEN

__all__ = ["last_id", "publish", "read"]


async def publish(redis: Any, key: str, events: Sequence[bytes]) -> None:
    """XADD each event, in order, in one round trip (trimming as it goes: ``MAXLEN ~``
    costs little because Redis only drops whole nodes)."""
    pipe = redis.pipeline(transaction=False)
    for data in events:
        pipe.xadd(key, {EVENT_FIELD: data}, maxlen=EVENTS_MAXLEN, approximate=True)
    await pipe.execute()


async def read(
    redis: Any, key: str, after: str, count: int, block_ms: int | None
) -> list[tuple[str, bytes]]:
    """Entries after ``after``; with ``block_ms``, wait that long when there are none."""
    reply = await redis.xread({key: after}, count=count, block=block_ms)
    return [
        (_text(entry_id), _data(fields))
        for _, entries in stream_entries(reply)
        for entry_id, fields in entries
    ]


async def last_id(redis: Any, key: str) -> str:
    newest = await redis.xrevrange(key, "+", "-", count=1)
    return _text(newest[0][0]) if newest else "0-0"


def _data(fields: Any) -> bytes:
    """The event's bytes; empty (which no reader can decode) for an entry written by
    something else."""
    for name, value in fields.items():
        if _text(name) == EVENT_FIELD:
            return bytes(value) if isinstance(value, bytes | bytearray) else str(value).encode()
    return b""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
