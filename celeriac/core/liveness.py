"""`WorkerInfo`: what a live worker publishes about itself with each heartbeat."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import DecodeError

__all__ = ["Counters", "WorkerInfo"]


@dataclass
class Counters:
    """What a worker has done since it started."""

    received: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    expired: int = 0
    revoked: int = 0
    dead_lettered: int = 0
    taken_over: int = 0

    @property
    def finished(self) -> int:
        """Tasks that ran to an outcome (what ``max_tasks`` counts)."""
        return self.succeeded + self.failed + self.retried


@dataclass(frozen=True)
class WorkerInfo:
    """A live worker: who and where it is, what it consumes, and its counters."""

    name: str
    consumer: str
    hostname: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    sync_concurrency: int
    sync_pool: str
    started: float
    active: int = 0
    held: int = 0
    paused: bool = False
    counters: Mapping[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        data = asdict(self)
        data["queues"] = list(self.queues)
        data["counters"] = dict(self.counters)
        return json.dumps(data).encode()

    @classmethod
    def decode(cls, data: bytes) -> WorkerInfo:
        try:
            raw: dict[str, Any] = json.loads(data)
            raw["queues"] = tuple(raw["queues"])
            return cls(**raw)
        except (ValueError, TypeError, KeyError) as exc:
            raise DecodeError(f"unreadable worker info: {exc}") from exc
