"""The runner: turns a delivery into a task call, runs it under its time limits, and
hands the outcome to the finisher.

Bad input never reaches a task: a message that does not decode, fails its signature
check, or names an unknown task is handed to the finisher as a dead letter.

Where a call runs: ``async def`` tasks on the event loop (time limits by cancellation,
see ``limits.py``); plain functions in the thread pool (no time limits: a thread cannot
be stopped) or, with ``sync_pool="processes"``, in child processes (``pool.py``), where
a hard limit kills and replaces the child.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, Protocol, TypeVar, cast

import anyio

from ..app import App
from ..broker import Delivery, Recovery
from ..context import Middleware, TaskContext, _current, through
from ..errors import BrokerError, DecodeError, Ignore, NotRegistered, Reject, Retry
from ..liveness import Counters
from ..logs import worker_logger as logger
from ..message import TaskMessage
from ..result import STARTED, ExceptionInfo, ResultRecord
from .events import EventPublisher
from .finish import DeadItem, Finisher, Item, NackItem, StoredFailure
from .holdings import Holdings
from .limits import run_limited
from .observe import Observer, observing
from .outcome import INFO, Job, Outcomes
from .parents import parent_values

__all__ = ["Job", "Runner", "SyncPool"]

E = TypeVar("E", bound=BaseException)


class SyncPool(Protocol):
    """Where plain functions run when not in threads (the process pool)."""

    async def run(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: Any,
        *,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        message: TaskMessage | None = None,
        worker: str = "",
    ) -> Any: ...

    def renew(self) -> None: ...

    async def resize(self, size: int) -> None: ...


def _from_task_frame(exc: E, fn: Callable[..., Any]) -> E:
    """Drop the worker's own frames from the traceback, as users expect to see theirs."""
    code = getattr(fn, "__code__", None)
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code is not code:
        tb = tb.tb_next
    return exc.with_traceback(tb) if tb is not None else exc


class Runner:
    def __init__(
        self,
        app: App,
        worker: str,
        finisher: Finisher,
        threads: anyio.CapacityLimiter,
        *,
        counters: Counters,
        holdings: Holdings,
        recovery: Recovery,
        pool: SyncPool | None = None,
        resources: Any = None,
        middleware: tuple[Middleware, ...] = (),
        events: EventPublisher | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.app = app
        self.worker = worker
        self.finisher = finisher
        self.threads = threads
        self.counters = counters
        self.holdings = holdings
        self.pool = pool
        self.recovery = recovery
        self.resources = resources
        self.middleware = middleware
        self.events = events
        self.observer = observer or Observer()
        self.outcomes = Outcomes(app, worker, counters, events, self.observer)
        self.running = 0
        self.active: dict[str, tuple[Job, float]] = {}  # running: id -> (job, started at)
        self.hand_back_on_cancel = True  # False on a cold stop: recovery brings them back
        self._warned: set[str] = set()
        self.is_revoked: Callable[[str], bool] = lambda _: False
        # time limits set by remote control: task name -> (soft, hard), over the message's
        self.limits: dict[str, tuple[float | None, float | None]] = {}
        self._scopes: dict[str, anyio.CancelScope] = {}  # running tasks that can be stopped
        self._next_start: dict[str, float] = {}  # rate-limited tasks: next free start

    def cancel(self, task_ids: Iterable[str]) -> None:
        """Stop these tasks if they run here (revoked): async ones are cancelled, ones in
        the process pool killed; plain functions in threads only see the flag."""
        for task_id in task_ids:
            scope = self._scopes.get(task_id)
            if scope is not None:
                scope.cancel()

    # -- from bytes to a job ------------------------------------------------------------

    def prepare(self, delivery: Delivery) -> Job | None:
        """Decode a delivery; dead-letter it (and return None) when it cannot run."""
        if delivery.data is None:
            return self._dead(delivery, "malformed", "stream entry has no message field")
        try:
            message = TaskMessage.decode(delivery.data, self.app.codec)
        except DecodeError as exc:
            return self._dead(delivery, type(exc).__name__, str(exc))
        try:
            task = self.app.get_task(message.name)
        except NotRegistered as exc:
            logger.error(
                "Received unregistered task of type %r [%s]: moved to the dead letters of "
                "queue %r. Did you import the module that defines it?",
                message.name,
                message.id,
                delivery.queue,
            )
            observing(self.observer.unknown, message, exc)
            # its caller sees NotRegistered (as under Celery); the message is kept
            info = ExceptionInfo.from_exception(NotRegistered(message.name), with_traceback=False)
            failure = self.outcomes.failure(message, info)
            return self._dead(delivery, "unregistered", str(exc), logged=True, failure=failure)
        self.counters.received += 1
        self._log_received(delivery, message)
        if self.events is not None:
            self.events.received(message)
        observing(self.observer.received, message)
        return Job(delivery, message, task)

    def _log_received(self, delivery: Delivery, message: TaskMessage) -> None:
        if delivery.deliveries > 1:
            logger.warning(
                "Task %s[%s] received again (delivery %d): the worker that had it stopped "
                "without finishing it.",
                message.name,
                message.id,
                delivery.deliveries,
            )
        elif logger.isEnabledFor(INFO):
            logger.info("Task %s[%s] received", message.name, message.id)

    def _dead(
        self,
        delivery: Delivery,
        reason: str,
        error: str,
        logged: bool = False,
        failure: StoredFailure | None = None,
    ) -> Job | None:
        if not logged:
            logger.error(
                "Cannot run message %s on queue %r (%s): %s. Moved to its dead letters.",
                delivery.tag,
                delivery.queue,
                reason,
                error,
            )
        self.counters.dead_lettered += 1
        self.finisher.submit(DeadItem(delivery, reason, error, failure))
        return None

    # -- running ------------------------------------------------------------------------

    async def run(self, job: Job) -> None:
        """Run one job to its outcome; if cancelled (shutdown), hand it back first."""
        message = job.message
        if message.expires is not None and message.expires < time.time():
            self.finisher.submit(self.outcomes.expired(job))
            return
        if self.is_revoked(message.id):
            self.finisher.submit(self.outcomes.revoked(job, running=False))
            return
        if job.delivery.deliveries > 1 and await self._too_many_starts(job):
            return
        if job.task.rate_limit:
            await self._rate_limited(job.task.name, job.task.rate_limit)
        if message.name in self.limits:
            soft, hard = self.limits[message.name]
            message = replace(message, soft_timeout=soft, timeout=hard)
            job = replace(job, message=message)
        self.running += 1
        self.active[message.id] = (job, time.time())
        self.holdings.started(job.delivery, message.timeout)
        try:
            await self._run_stoppable(job)
        except anyio.get_cancelled_exc_class():
            if self.hand_back_on_cancel:
                logger.warning(
                    "Task %s[%s] interrupted: back to its queue.", message.name, message.id
                )
                self.finisher.submit(NackItem(job.delivery))
            raise
        finally:
            self.running -= 1
            self.active.pop(message.id, None)

    async def _rate_limited(self, name: str, per_second: float) -> None:
        """Space this task's starts ``1/per_second`` apart in this worker (its message
        waits here, not in the pool)."""
        now = time.monotonic()
        slot = max(now, self._next_start.get(name, now))
        self._next_start[name] = slot + 1.0 / per_second
        if slot > now:
            await anyio.sleep(slot - now)

    async def _too_many_starts(self, job: Job) -> bool:
        """A message seen before: count this start; one that keeps killing its workers
        goes to the dead letters instead of being started again."""
        try:
            restarts = await self.app.broker.count_start(job.delivery)
        except BrokerError as exc:
            logger.warning("Cannot count the starts of %s: %s", job.message.id, exc)
            return False
        if restarts + 1 <= self.recovery.max_starts:
            return False
        m = job.message
        logger.error(
            "Task %s[%s] was started %d times and its worker stopped each time without "
            "finishing it (it may crash workers): moved to the dead letters.",
            m.name,
            m.id,
            restarts,
        )
        error = f"started {restarts} times without finishing: it may crash workers"
        self._dead(job.delivery, "too-many-starts", error, logged=True)
        return True

    async def _run_stoppable(self, job: Job) -> None:
        """Run, in a scope that a revocation cancels (where the task can be stopped)."""
        task_id = job.message.id
        with anyio.CancelScope() as scope:
            if job.task.is_async or self.pool is not None:
                self._scopes[task_id] = scope
            await self._run(job)
        self._scopes.pop(task_id, None)
        if scope.cancelled_caught:
            self.finisher.submit(self.outcomes.revoked(job, running=True))

    async def _run(self, job: Job) -> None:
        message = job.message
        if job.task.track_started and not message.ignore_result:
            record = ResultRecord(message.id, STARTED, name=message.name, worker=self.worker)
            await self._store(record)
        if self.events is not None:
            self.events.started(message)
        ctx = TaskContext(message, self.worker, self.is_revoked, self.resources)
        token = _current.set(ctx)
        started = time.perf_counter()
        completion: Item
        try:
            if self.middleware:
                value = await through(self.middleware, ctx, lambda: self._arguments_and_call(job))
            else:
                value = await self._arguments_and_call(job)
        except Retry as retry:
            completion = self.outcomes.retried(job, retry)
        except Ignore:
            completion = self.outcomes.ignored(job)
        except Reject as reject:
            completion = self.outcomes.rejected(job, reject)
        except Exception as exc:
            exc = _from_task_frame(exc, job.task.fn)
            if job.task.retry_policy.retries_on(exc):
                completion = self.outcomes.retried(job, Retry(exc=exc))
            else:
                completion = self.outcomes.failed(job, exc)
        else:
            runtime = time.perf_counter() - started
            completion = self.outcomes.succeeded(job, value, runtime, tuple(ctx.children))
        finally:
            _current.reset(token)
        self.finisher.submit(completion)

    async def _arguments_and_call(self, job: Job) -> Any:
        return await self._call(job, await self._arguments(job))

    async def _arguments(self, job: Job) -> tuple[Any, ...]:
        """The call's arguments: with the parents' results first, when it asked for them
        (and only once every parent succeeded: else DependencyFailed)."""
        m = job.message
        if not m.parents:
            return m.args
        values = await parent_values(self.app, m.parents, needed=m.pass_results is not None)
        if m.pass_results == "first":
            return (values[0], *m.args)
        if m.pass_results == "all":
            return (values, *m.args)
        return m.args

    async def _call(self, job: Job, args: tuple[Any, ...]) -> Any:
        m = job.message
        if job.task.is_async:
            coro = cast(Coroutine[Any, Any, Any], job.task.fn(*args, **m.kwargs))
            return await run_limited(coro, m.soft_timeout, m.timeout)
        if self.pool is not None:
            return await self.pool.run(
                m.name,
                args,
                m.kwargs,
                soft_timeout=m.soft_timeout,
                timeout=m.timeout,
                message=m,
                worker=self.worker,
            )
        self._warn_unenforced(m)
        call: Callable[[], Any] = functools.partial(job.task.fn, *args, **m.kwargs)
        return await anyio.to_thread.run_sync(call, limiter=self.threads, abandon_on_cancel=True)

    def _warn_unenforced(self, message: TaskMessage) -> None:
        if (message.timeout or message.soft_timeout) and message.name not in self._warned:
            self._warned.add(message.name)
            logger.warning(
                "Task %s has a time limit, but plain functions in the thread pool cannot "
                "be stopped: the limit is not enforced. Run the worker with "
                "sync_pool='processes' to enforce it.",
                message.name,
            )

    async def _store(self, record: ResultRecord) -> None:
        """Store an intermediate state; losing it is not worth failing the task."""
        data = record.encode(self.app.codec)
        try:
            await self.app.broker.store_result(record.id, record.state, data, self.app.result_ttl)
        except BrokerError as exc:
            logger.warning("Cannot store state %s of task %s: %s", record.state, record.id, exc)
