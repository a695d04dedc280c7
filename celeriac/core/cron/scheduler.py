"""`Scheduler`: sends the ticks of an app's periodic entries (what Celery calls beat).

Run as many as you like (one per worker with ``Worker(beat=True)``, or standalone):
each pass reads every entry's state from the broker, works out the due ticks by the
broker's clock (so schedulers on hosts whose clocks differ agree), and sends them.
The broker sends a tick only if the entry's state is older, and moves the state with
it in the same atomic step, so each tick goes out once however many schedulers run,
and a scheduler that restarts resumes where the state says. Between passes it sleeps
until the next tick, or ``max_interval`` at most (to see entries stored at run time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from ..broker import FIRED, Tick
from ..errors import BrokerError
from ..logs import beat_logger as logger
from ..options import SendOptions
from . import registry
from .entry import CATCH_UP_LIMIT, Periodic, Plan, from_ms, plan, to_ms

if TYPE_CHECKING:
    from ..app import App

__all__ = ["DEFAULT_MAX_INTERVAL", "Scheduler"]

DEFAULT_MAX_INTERVAL = 5.0
RETRY_AFTER = 1.0  # seconds before a pass that failed (broker down) is tried again


@dataclass(frozen=True)
class _Due:
    entry: Periodic
    queue: str
    options: SendOptions
    plan: Plan


class Scheduler:
    """Sends the due ticks of ``app``'s periodic entries, until cancelled.

    ``max_interval``: the longest sleep between passes. ``catch_up_limit``: how many
    late ticks an entry with ``missed="all"`` sends at most after an outage.
    """

    def __init__(
        self,
        app: App,
        *,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        catch_up_limit: int = CATCH_UP_LIMIT,
    ) -> None:
        self.app = app
        self.max_interval = max_interval
        self.catch_up_limit = catch_up_limit
        self.sent = 0  # ticks this scheduler sent (others may have sent more)
        self._failing = False
        self._warned: set[str] = set()  # unreadable stored entries reported already

    async def run(self) -> None:
        """Pass after pass until cancelled; broker trouble is logged and retried."""
        logger.info("beat: Starting...")
        while True:
            try:
                wait = await self.run_once()
            except BrokerError as exc:
                if not self._failing:
                    logger.error("beat: Broker error: %s. Retrying.", exc)
                self._failing = True
                wait = RETRY_AFTER
            else:
                if self._failing:
                    logger.info("beat: Broker working again.")
                self._failing = False
            await anyio.sleep(wait)

    async def run_once(self) -> float:
        """One pass: send what is due; returns the seconds until the next tick (at most
        ``max_interval``)."""
        entries = list((await registry.entries(self.app, self._warned)).values())
        if not entries:
            return self.max_interval
        routed = [self._route(entry) for entry in entries]
        now_ms, lasts = await self.app.broker.periodic.state(
            [(queue, entry.name) for entry, queue, _ in routed]
        )
        now = from_ms(now_ms)
        due = [
            _Due(entry, queue, options, plan(entry, from_ms(last), now, self.catch_up_limit))
            for (entry, queue, options), last in zip(routed, lasts, strict=True)
        ]
        await self._send(due)
        return self._until_next(entries, now)

    def _route(self, entry: Periodic) -> tuple[Periodic, str, SendOptions]:
        options = registry.send_options(self.app, entry)
        return entry, options.queue or self.app.default_queue, options

    async def _send(self, due: Sequence[_Due]) -> None:
        ticks: list[Tick] = []
        sent_by: list[_Due | None] = []  # per tick: the entry it sends, None to skip
        for item in due:
            _log_missed(item)
            if item.plan.advance is not None:
                ticks.append(Tick(item.entry.name, item.queue, to_ms(item.plan.advance)))
                sent_by.append(None)
            for moment in item.plan.fire:
                ticks.append(self._tick(item, moment))
                sent_by.append(item)
        if not ticks:
            return
        outcomes = await self.app.broker.periodic.fire(ticks)
        for sender, outcome in zip(sent_by, outcomes, strict=True):
            if sender is not None:
                self._report(sender.entry, outcome)

    def _tick(self, item: _Due, moment: datetime) -> Tick:
        message = item.entry.message(moment, item.options, self.app.default_queue)
        (outgoing,) = self.app._outgoing([message])
        return Tick(item.entry.name, item.queue, to_ms(moment), outgoing)

    def _report(self, entry: Periodic, outcome: str | None) -> None:
        if outcome is None:
            self.sent += 1
            logger.info("Scheduler: Sending due task %s (%s)", entry.name, entry.task)
        elif outcome != FIRED:
            logger.info(
                "Scheduler: Not sending %s (%s): unique, and %s is still queued or running",
                entry.name,
                entry.task,
                outcome,
            )

    def _until_next(self, entries: Sequence[Periodic], now: datetime) -> float:
        soonest = min(entry.schedule.next_after(now) for entry in entries)
        return max(0.0, min(self.max_interval, (soonest - now).total_seconds()))


def _log_missed(item: _Due) -> None:
    if item.plan.dropped or item.plan.more:
        count = f"{item.plan.dropped}{'+' if item.plan.more else ''}"
        logger.warning(
            "Scheduler: %s (%s) missed %s tick(s) while no scheduler ran; not sent (missed=%r)",
            item.entry.name,
            item.entry.task,
            count,
            item.entry.missed,
        )
