"""`Worker`: one process's consumer. One task group holds its pieces:

* the fetcher (``fetch.py``) takes batches of messages from the broker, and takes over
  those of workers that died;
* runners (``run.py``): ``concurrency`` coroutines for ``async def`` tasks on the event
  loop, ``sync_concurrency`` more that run plain functions in threads or processes (a
  number :meth:`Worker.resize` and the autoscaler, ``autoscale.py``, change at run time:
  the plain-function pool, ``plain.py``);
* the finisher (``finish.py``) records outcomes and acknowledges, in batches;
* the heartbeat (``heartbeat.py``) keeps this worker alive in the broker's eyes;
* with ``events=True``, the events publisher (``events.py``) sends task events.

Stopping: :meth:`Worker.stop` (or SIGTERM/SIGINT with ``handle_signals``) stops fetching,
lets running tasks finish within ``grace`` seconds and hands the others back to their
queue. A second signal, or ``stop(now=True)``, stops at once: unfinished messages come
back through recovery.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio

from ..app import App, Lifespan
from ..broker import Delivery, Recovery
from ..context import Middleware
from ..cron import Scheduler
from ..errors import BrokerError, ConfigurationError
from ..keys import check_queue_name
from ..liveness import Counters, WorkerInfo
from ..logs import worker_logger as logger
from .autoscale import DEFAULT_KEEPALIVE, Autoscaler
from .control import Control
from .events import publishing
from .fetch import Fetcher
from .finish import Finisher, NackItem
from .heartbeat import Heartbeat
from .holdings import Holdings
from .jobs import Jobs
from .observe import Observer, observing
from .plain import POOLS, PlainPool
from .remote import Remote
from .run import Job, Runner

__all__ = ["Worker"]

COLD_FLUSH = 2.0  # seconds a cold stop still gives the finisher to record what is done
CONTROL_WAIT = 5.0  # seconds a starting worker waits to hear revocations before running


def _default_sync_concurrency() -> int:
    return min(32, (os.cpu_count() or 1) + 4)


class Worker:
    """Runs the tasks of ``app`` from ``queues`` until stopped.

    ``concurrency`` bounds ``async def`` tasks running at once, ``sync_concurrency`` the
    plain functions (threads, or child processes with ``sync_pool="processes"``, where
    ``max_tasks_per_child`` and ``max_memory_per_child`` (KiB) recycle children), and
    ``prefetch`` how many more messages the worker may hold ready beyond those (or
    ``prefetch_multiplier`` per plain-function seat, as Celery counts it, following the
    pool's size). ``autoscale=(maximum, minimum)`` sizes the plain-function pool with
    demand (see ``autoscale.py``; it starts at the minimum, ``sync_concurrency`` is not
    used); :meth:`resize` sizes it by hand.
    ``strict_order`` serves queues in the order given instead of in turn. ``block`` is the
    longest a fetch waits before looking around again. ``heartbeat`` is the interval of
    liveness beats (a worker silent for three is taken as dead); ``recovery`` says when
    messages are taken over from others. ``grace``: seconds running tasks get to finish
    at a stop. ``max_tasks``: stop after that many; ``idle_timeout``: stop after that
    many seconds with nothing to do. ``events``: publish task events for monitors
    (Celery's ``-E``; see :meth:`App.events`). ``beat``: also run a :class:`Scheduler`
    that sends the app's periodic tasks (any number of workers may; each tick is sent
    once). ``child_init`` runs in each child of the process pool as it starts;
    ``observer`` (an :class:`Observer`) hears of messages received, unknown and revoked.
    """

    def __init__(
        self,
        app: App,
        *,
        queues: Sequence[str] | None = None,
        concurrency: int = 100,
        sync_concurrency: int | None = None,
        sync_pool: str = "threads",
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | None = None,
        prefetch: int | None = None,
        prefetch_multiplier: int | None = None,
        autoscale: tuple[int, int] | None = None,
        autoscale_keepalive: float = DEFAULT_KEEPALIVE,
        name: str | None = None,
        strict_order: bool = False,
        block: float = 1.0,
        heartbeat: float = 5.0,
        recovery: Recovery | None = None,
        grace: float = 25.0,
        max_tasks: int | None = None,
        idle_timeout: float | None = None,
        lifespan: Lifespan | None = None,
        middleware: Sequence[Middleware] = (),
        events: bool = False,
        beat: bool = False,
        child_init: Callable[[], None] | None = None,
        observer: Observer | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
        if sync_pool not in POOLS:
            raise ConfigurationError(f"sync_pool must be one of {POOLS}, got {sync_pool!r}")
        self.app = app
        self.queues = [check_queue_name(q) for q in (queues or [app.default_queue])]
        self.concurrency = concurrency
        self.sync_concurrency = sync_concurrency or _default_sync_concurrency()
        self.sync_pool = sync_pool
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child = max_memory_per_child
        self.autoscaler = (
            Autoscaler(self, *autoscale, keepalive=autoscale_keepalive) if autoscale else None
        )
        if self.autoscaler is not None:
            self.sync_concurrency = self.autoscaler.initial
        if prefetch is not None and prefetch_multiplier is not None:
            raise ConfigurationError("give prefetch or prefetch_multiplier, not both")
        self.prefetch_multiplier = prefetch_multiplier
        self.prefetch = concurrency if prefetch is None else prefetch
        self.name = name or f"celeriac@{socket.gethostname()}"
        self.consumer = f"{self.name}#{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.strict_order = strict_order
        self.block = block
        self.heartbeat_interval = heartbeat
        self.recovery = recovery or Recovery()
        self.grace = grace
        self.max_tasks = max_tasks
        self.idle_timeout = idle_timeout
        self.lifespan = lifespan or app.lifespan
        # the app's middleware outermost, then this worker's own
        self.middleware = (*app.middlewares, *middleware)
        self.events = events
        self.scheduler = Scheduler(app) if beat else None
        self.child_init = child_init
        self.observer = observer
        self.counters = Counters()
        self.holdings = Holdings()
        self.started = time.time()
        self._fetcher: Fetcher | None = None
        self._runner: Runner | None = None
        self._stop_asked = False  # stop() may come before run() made the anyio objects
        self._started_tasks = 0
        self._paused = False
        self._cold = False
        self._stopping: anyio.Event | None = None
        self._runners_scope: anyio.CancelScope | None = None
        self._control: Control | None = None
        self._heartbeat: Heartbeat | None = None
        self.plain = PlainPool(
            app,
            sync_pool,
            self.sync_concurrency,
            max_tasks_per_child=max_tasks_per_child,
            max_memory_per_child=max_memory_per_child,
            child_init=child_init,
        )
        self._count_prefetch()

    # -- control ------------------------------------------------------------------------

    @property
    def hostname(self) -> str:
        """The worker's node name (``name``), under the name Celery's code reads."""
        return self.name

    def renew_pool(self) -> None:
        """Fork the process pool's children again before their next task, so they see
        tasks registered (or modules reloaded) since they started; threads need not."""
        self.plain.renew()

    async def resize(self, size: int) -> None:
        """Run ``size`` plain functions at once from now on (Celery's pool_grow and
        pool_shrink; see ``plain.py``); the worker holds as many more or fewer messages.
        Running tasks finish."""
        await self.plain.resize(size)
        self.sync_concurrency = size
        self._count_prefetch()

    @property
    def sync_demand(self) -> int:
        """Plain-function tasks held: running, or waiting for a seat (in line or taken)."""
        return self.plain.demand

    def seat_kind(self, count: int) -> str:
        """What ``count`` seats of the plain-function pool are, for logs."""
        return self.plain.seat_kind(count)

    def autoscale_changed(self) -> None:
        """The autoscaler's bounds moved: the prefetch follows its maximum."""
        self._count_prefetch()

    def _count_prefetch(self) -> None:
        if self.prefetch_multiplier is not None:
            seats = self.autoscaler.maximum if self.autoscaler else self.sync_concurrency
            self.prefetch = self.prefetch_multiplier * seats
        if self._fetcher is not None:
            self._fetcher.capacity = self._capacity()
            self._fetcher.poke()

    def _capacity(self) -> int:
        return self.concurrency + self.sync_concurrency + self.prefetch

    def stop(self, *, now: bool = False) -> None:
        """Stop: running tasks get ``grace`` seconds, prefetched ones go back to their
        queue. With ``now``, running tasks are cancelled too (recovery brings them back)."""
        self._stop_asked = True
        if now:
            self._cold = True
            if self._runner is not None:
                self._runner.hand_back_on_cancel = False
            if self._runners_scope is not None:
                self._runners_scope.cancel()
        if self._fetcher is not None:
            self._fetcher.stop()
        if self._stopping is not None:
            self._stopping.set()

    def pause(self) -> None:
        """Stop taking new messages (running ones go on) until :meth:`resume`."""
        self._paused = True
        if self._fetcher is not None:
            self._fetcher.pause()

    def resume(self) -> None:
        self._paused = False
        if self._fetcher is not None:
            self._fetcher.resume()

    @property
    def info(self) -> WorkerInfo:
        """What this worker publishes about itself."""
        return WorkerInfo(
            name=self.name,
            consumer=self.consumer,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(self.queues),
            concurrency=self.concurrency,
            sync_concurrency=self.sync_concurrency,
            sync_pool=self.sync_pool,
            started=self.started,
            active=self._runner.running if self._runner else 0,
            held=len(self.holdings),
            paused=bool(self._fetcher and self._fetcher.paused),
            counters=vars(self.counters).copy(),
        )

    # -- running ------------------------------------------------------------------------

    async def run(self, *, burst: bool = False, handle_signals: bool = False) -> None:
        """Consume until :meth:`stop` (or, with ``burst``, until the queues are drained).
        ``handle_signals``: SIGTERM/SIGINT stop gracefully, a second one (or SIGQUIT) at
        once (for a worker that owns its process)."""
        self._stopping = anyio.Event()
        self._runners_scope = anyio.CancelScope()
        if self._stop_asked:
            self._stopping.set()
        async with (
            self.plain.opened() as pool,
            self._lifespan() as resources,
            publishing(self.app.broker, self.consumer, enabled=self.events) as events,
        ):
            finisher = Finisher(self.app.broker, self._flushed)
            assert self.plain.threads is not None  # set once the pool is open
            runner = self._runner = Runner(
                self.app,
                self.name,
                finisher,
                self.plain.threads,
                counters=self.counters,
                holdings=self.holdings,
                recovery=self.recovery,
                pool=pool,
                resources=resources,
                middleware=self.middleware,
                events=events,
                observer=self.observer,
            )
            control = Control(self.app.broker, runner.cancel, self.name, Remote(self).answer)
            self._control = control
            runner.is_revoked = control.is_revoked
            heartbeat = self._heartbeat = Heartbeat(
                self.app.broker,
                self.consumer,
                self.queues,
                holdings=self.holdings,
                interval=self.heartbeat_interval,
                info=lambda: self.info,
                also=control.refresh,
            )
            await self._start(heartbeat)
            async with anyio.create_task_group() as services:
                services.start_soon(heartbeat.run)
                listening = anyio.Event()
                services.start_soon(control.listen, listening)
                services.start_soon(control.answer_requests)
                # tasks start once revocations reach us (a broker that is down delays
                # that: the fetcher waits for it anyway, so wait a little, not forever)
                with anyio.move_on_after(CONTROL_WAIT):
                    await listening.wait()
                services.start_soon(self._enforce_grace)
                if handle_signals:
                    services.start_soon(self._watch_signals)
                if self.scheduler is not None:
                    services.start_soon(self.scheduler.run)
                if self.autoscaler is not None:
                    services.start_soon(self.autoscaler.run)
                await self._consume(finisher, runner, burst)
                services.cancel_scope.cancel()  # no heartbeat may announce us after this
            await heartbeat.withdraw()
        logger.info("%s stopped.", self.name)

    @contextlib.asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[Any]:
        """The lifespan around the whole run (after the process pool forked, so that its
        children do not inherit the resources' sockets)."""
        if self.lifespan is None:
            yield None
            return
        async with contextlib.AsyncExitStack() as stack:
            try:
                resources = await stack.enter_async_context(self.lifespan(self))
            except Exception as exc:
                raise ConfigurationError(
                    f"the worker's lifespan {self.lifespan!r} failed to start: {exc!r}"
                ) from exc
            yield resources

    async def _start(self, heartbeat: Heartbeat) -> None:
        self.plain.warn_about_time_limits()
        try:
            await heartbeat.beat()  # alive before holding anything
        except BrokerError as exc:
            logger.error("Cannot reach the broker at start: %s (will keep trying)", exc)
        self._log_ready()

    async def _consume(self, finisher: Finisher, runner: Runner, burst: bool) -> None:
        async with anyio.create_task_group() as finishing:
            finishing.start_soon(finisher.run)
            try:
                assert self._runners_scope is not None
                with self._runners_scope:
                    await self._fetch_and_run(runner, burst)
            finally:
                finisher.close()
                if self._cold:  # still record what is done, briefly
                    finishing.cancel_scope.deadline = anyio.current_time() + COLD_FLUSH

    async def _fetch_and_run(self, runner: Runner, burst: bool) -> None:
        async_jobs, sync_jobs = Jobs[Job](), Jobs[Job]()
        autoscaler = self.autoscaler

        def deliver(delivery: Delivery) -> None:
            job = runner.prepare(delivery)
            if job is None:
                return
            if job.task.is_async:
                async_jobs.put(job)
            else:
                sync_jobs.put(job)
                if autoscaler is not None:
                    autoscaler.arrived()

        fetcher = self._fetcher = self._make_fetcher(deliver)
        if self._stop_asked:  # stopped (or paused) before it started
            fetcher.stop()
        if self._paused:
            fetcher.pause()
        async with anyio.create_task_group() as runners:
            for _ in range(self.concurrency):
                runners.start_soon(self._run_jobs, runner, async_jobs)
            run_one = functools.partial(self._run_one, runner)
            try:
                with self.plain.serving(sync_jobs, run_one, runners):
                    await fetcher.run(burst=burst)
            finally:
                async_jobs.close()
                sync_jobs.close()

    def _make_fetcher(self, deliver: Callable[[Delivery], None]) -> Fetcher:
        return Fetcher(
            self.app.broker,
            self.queues,
            self.consumer,
            capacity=self._capacity(),
            holdings=self.holdings,
            counters=self.counters,
            strict=self.strict_order,
            block=self.block,
            recovery=self.recovery,
            reclaim_every=self.heartbeat_interval,
            idle_timeout=self.idle_timeout,
            deliver=deliver,
        )

    async def _run_jobs(self, runner: Runner, jobs: Jobs[Job]) -> None:
        while (job := await jobs.next()) is not None:
            await self._run_one(runner, job)

    async def _run_one(self, runner: Runner, job: Job) -> None:
        if self._stop_asked:
            runner.finisher.submit(NackItem(job.delivery))  # not started: hand back
            return
        self._count_start()
        try:
            await runner.run(job)
        except Exception:  # a bug of ours must not lose the message or the worker
            logger.exception(
                "Internal error running %s[%s]: returned to the queue.",
                job.message.name,
                job.message.id,
            )
            runner.finisher.submit(NackItem(job.delivery))

    def _flushed(self, deliveries: list[Delivery]) -> None:
        """The finisher recorded these: room for more."""
        if self._fetcher is not None:
            self._fetcher.release(deliveries)

    def _count_start(self) -> None:
        """One more task starts; the ``max_tasks``-th one stops the worker after it."""
        self._started_tasks += 1
        if self.max_tasks is not None and self._started_tasks >= self.max_tasks:
            logger.info("Started %d tasks (max_tasks): stopping after them.", self.max_tasks)
            self.stop()

    async def _enforce_grace(self) -> None:
        """Once stopping, give running tasks ``grace`` seconds, then hand them back."""
        assert self._stopping is not None
        assert self._runners_scope is not None
        await self._stopping.wait()
        await anyio.sleep(self.grace)
        if self._runner is not None and self._runner.running:
            logger.warning(
                "%d task(s) still running after the %.0fs grace period: handed back to "
                "their queue.",
                self._runner.running,
                self.grace,
            )
        self._runners_scope.cancel()

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGQUIT) as signals:
            async for signum in signals:
                cold = signum == signal.SIGQUIT or self._stop_asked
                if self.observer is not None:
                    observing(self.observer.stopping, signal.Signals(signum).name, cold=cold)
                if cold:
                    logger.warning("worker: Cold shutdown (MainProcess)")
                    self.stop(now=True)
                else:
                    logger.warning("worker: Warm shutdown (MainProcess)")
                    self.stop()

    def _log_ready(self) -> None:
        logger.info(
            "%s ready: queues=%s concurrency=%d (+%d %s) prefetch=%d broker=%r",
            self.name,
            ",".join(self.queues),
            self.concurrency,
            self.sync_concurrency,
            self.sync_pool,
            self.prefetch,
            self.app.broker,
        )
