"""`Autoscaler`: grows and shrinks a worker's pool for plain functions with demand, as
Celery's ``--autoscale=max,min`` does.

Demand is the plain-function tasks the worker holds: running, or taken from the queue
and waiting for a seat. The pool grows at once to meet it (up to ``maximum``) whenever a
task arrives, and is looked at again every ``interval`` seconds; it shrinks to the
demand (down to ``minimum``) only once ``keepalive`` seconds have passed since it last
grew and since the last task arrived, so a burst does not make it flap. The pool never
has fewer than one seat (Celery's ``--autoscale=N,0`` starts with none).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anyio

from ..errors import ConfigurationError
from ..logs import worker_logger as logger

if TYPE_CHECKING:
    from ._worker import Worker

__all__ = ["DEFAULT_KEEPALIVE", "Autoscaler", "check_bounds"]

DEFAULT_KEEPALIVE = 30.0  # Celery's AUTOSCALE_KEEPALIVE
INTERVAL = 1.0


def check_bounds(maximum: int, minimum: int) -> tuple[int, int]:
    """``(maximum, minimum)``, checked."""
    for name, value in (("maximum", maximum), ("minimum", minimum)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigurationError(f"autoscale {name} must be a whole number, got {value!r}")
    if maximum < 1 or not 0 <= minimum <= maximum:
        raise ConfigurationError(
            f"autoscale needs 1 <= maximum and 0 <= minimum <= maximum, got "
            f"maximum={maximum} minimum={minimum}"
        )
    return maximum, minimum


class Autoscaler:
    """Sizes ``worker``'s pool between ``minimum`` and ``maximum`` seats."""

    def __init__(
        self,
        worker: Worker,
        maximum: int,
        minimum: int,
        *,
        keepalive: float = DEFAULT_KEEPALIVE,
        interval: float = INTERVAL,
    ) -> None:
        self.worker = worker
        self.maximum, self.minimum = check_bounds(maximum, minimum)
        if not keepalive > 0:
            raise ConfigurationError(f"autoscale keepalive must be positive, got {keepalive!r}")
        self.keepalive = keepalive
        self.interval = interval
        self._last_growth: float | None = None
        self._last_arrival: float | None = None
        self._arrived = anyio.Event()

    @property
    def initial(self) -> int:
        """The pool's size at start: the minimum (one at least)."""
        return max(1, self.minimum)

    def arrived(self) -> None:
        """A plain-function task arrived: look at the demand now."""
        self._last_arrival = time.monotonic()
        self._arrived.set()

    async def run(self) -> None:
        """Size the pool until cancelled."""
        while True:
            with anyio.move_on_after(self.interval):
                await self._arrived.wait()
            self._arrived = anyio.Event()
            await self.scale()

    async def scale(self) -> None:
        """Grow to the demand now, or shrink to it once things have been quiet."""
        size, demand = self.worker.sync_concurrency, self.worker.sync_demand
        wanted = min(demand, self.maximum)
        if wanted > size:
            self._last_growth = time.monotonic()
            await self._resize(wanted, "up")
            return
        wanted = max(demand, self.minimum, 1)
        if wanted < size and self._quiet():
            await self._resize(wanted, "down")

    async def update(self, maximum: int | None, minimum: int | None) -> tuple[int, int]:
        """New bounds (None: unchanged); the pool is brought inside them at once."""
        new_max = self.maximum if maximum is None else maximum
        new_min = self.minimum if minimum is None else minimum
        self.maximum, self.minimum = check_bounds(new_max, new_min)
        self.worker.autoscale_changed()
        size = self.worker.sync_concurrency
        if size > self.maximum:
            await self._resize(self.maximum, "down")
        elif size < max(1, self.minimum):
            await self._resize(max(1, self.minimum), "up")
        return self.maximum, self.minimum

    def info(self) -> dict[str, Any]:
        return {
            "max": self.maximum,
            "min": self.minimum,
            "current": self.worker.sync_concurrency,
            "qty": self.worker.sync_demand,
        }

    def _quiet(self) -> bool:
        last = max(self._last_growth or 0.0, self._last_arrival or 0.0)
        return time.monotonic() - last > self.keepalive

    async def _resize(self, size: int, way: str) -> None:
        change = abs(size - self.worker.sync_concurrency)
        logger.info("Scaling %s %d %s.", way, change, self.worker.seat_kind(change))
        await self.worker.resize(size)
