"""`PeriodicStore`: what a broker keeps for periodic tasks (see ``celeriac.core.cron``).

Two things, both in the broker so that every scheduler shares them:

* the entries added at run time (name -> encoded entry);
* each entry's *state*: the last tick sent, in milliseconds, kept with the queue the
  entry sends to. Sending a tick and moving the state to it are one atomic step, taken
  only when the state is older than the tick: however many schedulers try, each tick is
  sent once, and a scheduler that restarts knows where the others left off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .base import Outgoing

__all__ = ["FIRED", "PeriodicStore", "Tick"]

FIRED = "fired"  # why a tick was not sent: a scheduler sent it already


@dataclass(frozen=True)
class Tick:
    """A tick of entry ``entry`` (whose state is kept in ``queue``), at ``at`` (ms).

    With ``item``, send it unless the entry's state is at ``at`` or later; without, only
    move the state to ``at`` (late ticks skipped).
    """

    entry: str
    queue: str
    at: int
    item: Outgoing | None = None


@runtime_checkable
class PeriodicStore(Protocol):
    """Periodic entries and their state, shared by every scheduler."""

    async def entries(self) -> dict[str, bytes]:
        """The entries added at run time: name -> encoded entry."""

    async def put(self, name: str, data: bytes, queue: str) -> None:
        """Add or replace an entry; its state (in ``queue``) starts now, so ticks before
        this moment are not counted as missed."""

    async def remove(self, name: str) -> bytes | None:
        """Take an entry out; returns what it was, or None when there was none."""

    async def forget(self, queue: str, name: str) -> None:
        """Drop an entry's state."""

    async def state(self, entries: Sequence[tuple[str, str]]) -> tuple[int, list[int]]:
        """The broker's clock (ms) and, per (queue, entry name), the entry's last tick
        sent (ms). An entry seen for the first time starts at the clock's now."""

    async def fire(self, ticks: Sequence[Tick]) -> list[str | None]:
        """Send ticks, in order: per tick, None when it was sent (or its state moved),
        else why not: ``FIRED`` (sent already) or the id of the instance holding a
        unique task's lock (its state is moved all the same)."""
