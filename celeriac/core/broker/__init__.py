"""Brokers: the `Broker` protocol, `RedisBroker`, `MemoryBroker`, and `broker_from_url`."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ._connect import SCHEMES, safe_url
from .base import (
    DEFAULT_PRIORITY_STEPS,
    EVENTS_MAXLEN,
    PLACES,
    RECENT_DONE,
    Broker,
    Completion,
    DeadLetter,
    Delivery,
    Listed,
    Outgoing,
    PrioritySteps,
    QueueStats,
    Recovery,
    SyncBroker,
    TaskView,
)
from .memory import MemoryBroker
from .memory_sync import MemorySyncBroker
from .periodic import FIRED, PeriodicStore, Tick
from .redis import RedisBroker
from .redis_sync import RedisSyncBroker

__all__ = [
    "DEFAULT_PRIORITY_STEPS",
    "EVENTS_MAXLEN",
    "FIRED",
    "PLACES",
    "RECENT_DONE",
    "Broker",
    "Completion",
    "DeadLetter",
    "Delivery",
    "Listed",
    "MemoryBroker",
    "MemorySyncBroker",
    "Outgoing",
    "PeriodicStore",
    "PrioritySteps",
    "QueueStats",
    "Recovery",
    "RedisBroker",
    "RedisSyncBroker",
    "SyncBroker",
    "TaskView",
    "Tick",
    "broker_from_url",
    "safe_url",
]


def broker_from_url(
    url: str, *, prefix: str = "celeriac", priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS
) -> Broker:
    """A broker for a ``memory://[name]`` URL, or a Redis one: ``redis://``,
    ``rediss://``, ``unix://``, ``redis+sentinel://`` or ``redis+cluster://``."""
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        name = url.split("://", 1)[1].strip("/")
        return MemoryBroker.named(name, priority_steps=priority_steps)
    if scheme in SCHEMES:
        return RedisBroker(url, prefix=prefix, priority_steps=priority_steps)
    raise ConfigurationError(
        f"unsupported broker URL {safe_url(url)!r}: use memory://, "
        f"{', '.join(s + '://' for s in SCHEMES)}"
    )
