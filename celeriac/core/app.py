"""`App`: the task registry, the broker, the codec, and the producer on top of them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from . import introspection
from .broker import DEFAULT_PRIORITY_STEPS, Broker, Outgoing, SyncBroker, broker_from_url
from .codec import DEFAULT_MAX_SIZE, Codec
from .context import Middleware, _current
from .cron import registry as periodic_registry
from .cron.entry import DEFAULT_GRACE, Periodic
from .cron.schedules import Schedule, parse_schedule
from .errors import ConfigurationError, DecodeError, NotRegistered
from .events import TaskEvent, read_events
from .graph import check_cycles, check_unique_parents
from .handle import Handle, SyncHandle
from .introspection import TaskInfo
from .keys import check_queue_name
from .liveness import WorkerInfo
from .logs import worker_logger as logger
from .message import TaskMessage, new_id
from .options import SendOptions
from .result import revoked_record
from .retry import RetryPolicy
from .signing import SigningKeys, make_signer
from .task import Task

__all__ = ["DEFAULT_RESULT_TTL", "App"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_RESULT_TTL = 24 * 3600.0
REVOKE_TTL = 24 * 3600.0  # how long a revocation is remembered when results never expire


# called with the worker; entered around its whole run (see App)
Lifespan = Callable[[Any], AbstractAsyncContextManager[Any]]


class _TaskDecorator(Protocol):
    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Task[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Task[P, R]: ...


class _PeriodicDecorator(Protocol):
    @overload
    def __call__(self, fn: Task[P, R]) -> Task[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Task[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Task[P, R]: ...


class App:
    """A celeriac application: where tasks are registered and sent from.

    ``broker`` is a URL (``memory://``, ``redis://...``) or a broker object.
    ``accept`` lists the serializers a worker will decode (default: just ``serializer``);
    ``signing_keys`` turns signing on: the first key signs, all of them verify, and an
    unsigned or tampered message is never run.
    ``lifespan``: called with the worker, an async context manager its workers enter
    before they take any task and leave after the last one; what it yields reaches
    tasks as ``current_task().resources(Type)``. ``middleware``: async callables
    ``(ctx, call_next)`` run around every task, the first outermost (more with
    :meth:`middleware`). ``result_extended``: results also keep the call's arguments
    and queue (Celery's setting of that name).
    """

    def __init__(
        self,
        broker: str | Broker = "memory://",
        *,
        main: str | None = None,
        prefix: str = "celeriac",
        serializer: str = "json",
        accept: Iterable[str] | None = None,
        signing_keys: SigningKeys | None = None,
        result_ttl: float | None = DEFAULT_RESULT_TTL,
        default_queue: str = "default",
        priority_steps: Sequence[int] = DEFAULT_PRIORITY_STEPS,
        max_message_size: int = DEFAULT_MAX_SIZE,
        lifespan: Lifespan | None = None,
        middleware: Sequence[Middleware] = (),
        result_extended: bool = False,
    ) -> None:
        self.main = main
        self.result_extended = result_extended
        self.lifespan = lifespan
        self.middlewares: list[Middleware] = list(middleware)
        if isinstance(broker, str):
            broker = broker_from_url(broker, prefix=prefix, priority_steps=priority_steps)
        self.broker: Broker = broker
        self.codec = Codec(
            serializer,
            accept if accept is not None else (serializer,),
            make_signer(signing_keys),
            max_message_size,
        )
        self.result_ttl = result_ttl
        self.default_queue = check_queue_name(default_queue)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self.periodic_declared: dict[str, Periodic] = {}  # declared in code, by name
        self._sync_broker: SyncBroker | None = None

    def __repr__(self) -> str:
        return f"<celeriac App {self.main or ''} broker={self.broker!r}>"

    def middleware(self, fn: Middleware) -> Middleware:
        """Decorator: run ``fn(ctx, call_next)`` around every task (inside the ones added
        before it)."""
        self.middlewares.append(fn)
        return fn

    # -- registry -----------------------------------------------------------------------

    @overload
    def task(self, fn: Callable[P, Awaitable[R]], /) -> Task[P, R]: ...
    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        track_started: bool = False,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        **options: Any,
    ) -> _TaskDecorator: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        track_started: bool = False,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        **options: Any,
    ) -> Any:
        """Register a function (``async def`` or plain) as a task.

        Use bare (``@app.task``) or with options (``@app.task(queue="q", timeout=30)``);
        the options are the defaults of :meth:`Task.options`. ``retry`` says which
        exceptions retry the task by themselves and how long it waits (a
        :class:`RetryPolicy`; by default only ``raise Retry(...)`` retries, with backoff).
        ``rate_limit``: at most that many starts per second in each worker.
        """
        defaults = SendOptions().merged(options)

        def register(func: Callable[..., Any]) -> Task[Any, Any]:
            task: Task[Any, Any] = Task(
                self,
                func,
                name or self._task_name(func),
                defaults,
                track_started=track_started,
                retry_policy=retry,
                rate_limit=rate_limit,
            )
            self.register(task)
            return task

        return register if fn is None else register(fn)

    def _task_name(self, fn: Callable[..., Any]) -> str:
        module = fn.__module__
        if module == "__main__" and self.main:
            module = self.main
        return f"{module}.{fn.__name__}"

    def register(self, task: Task[Any, Any]) -> None:
        """Add a task to the registry; a different function under a taken name is an error."""
        existing = self.tasks.get(task.name)
        if existing is not None and existing.fn is not task.fn:
            raise ConfigurationError(
                f"task name {task.name!r} is already registered for {existing.fn!r}; "
                "pass name= to tell them apart"
            )
        self.tasks[task.name] = task

    def get_task(self, name: str) -> Task[Any, Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise NotRegistered(
                f"no task named {name!r} is registered in this process; "
                "is the module that defines it imported?"
            ) from None

    # -- periodic tasks -----------------------------------------------------------------

    def periodic(
        self,
        schedule: str | float | timedelta | Schedule,
        *,
        name: str | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        missed: str = "once",
        grace: float = DEFAULT_GRACE,
        tz: str = "UTC",
        **options: Any,
    ) -> _PeriodicDecorator:
        """Decorator: send this task (a function, registered as a task here, or a
        task) on ``schedule``: a cron expression in time zone ``tz``, seconds or a
        ``timedelta``. ``options`` are send options; ``missed`` and ``grace`` say
        what happens to ticks missed while no scheduler ran (see ``cron/entry.py``)."""

        def declare(target: Any) -> Any:
            task = target if isinstance(target, Task) else self.task(target)
            self.add_periodic(
                Periodic(
                    task.name,
                    parse_schedule(schedule, tz),
                    tuple(args),
                    kwargs or {},
                    options,
                    name=name or task.name,
                    missed=missed,
                    grace=grace,
                )
            )
            return task

        return declare  # type: ignore[return-value]  # the overloads say what it returns

    def add_periodic(self, entry: Periodic) -> Periodic:
        """Declare a periodic entry in code (replacing one of the same name)."""
        self.periodic_declared[entry.name] = entry
        return entry

    async def store_periodic(self, entry: Periodic) -> None:
        """Add an entry at run time, in the broker: every scheduler picks it up at its
        next pass. Replaces a stored entry of the same name, and overrides one declared
        in code; its ticks count from now."""
        await periodic_registry.store(self, entry)

    async def remove_periodic(self, name: str) -> bool:
        """Remove an entry stored at run time; False when none was stored under that
        name (an entry declared in code stays)."""
        return await periodic_registry.remove(self, name)

    async def periodic_entries(self) -> dict[str, Periodic]:
        """Every periodic entry by name: declared in code, or stored (which wins)."""
        return await periodic_registry.entries(self)

    # -- producing ----------------------------------------------------------------------

    def _outgoing(self, messages: Sequence[TaskMessage]) -> list[Outgoing]:
        check_cycles(messages)
        check_unique_parents(messages)
        sender = _current.get(None)
        if sender is not None:  # sent by a running task: they are its children
            sender.children.extend(m.id for m in messages)
        return [
            Outgoing(
                m.id,
                m.queue,
                m.priority,
                m.encode(self.codec),
                m.eta,
                name=m.name,
                parents=m.parents,
                result_ttl=self.result_ttl,
                unique=m.unique or "",
                after_delay=m.after_delay or 0.0,
            )
            for m in messages
        ]

    async def send(self, messages: Sequence[TaskMessage]) -> dict[str, str]:
        """Send messages from async code, all in one round trip. Returns the unique tasks
        not sent because an instance is queued or running: id -> that instance's id."""
        return await self.broker.send(self._outgoing(messages))

    def send_sync(self, messages: Sequence[TaskMessage]) -> dict[str, str]:
        """Send messages from sync code (thread-safe), all in one round trip (returns as
        :meth:`send`)."""
        return self.sync_broker.send(self._outgoing(messages))

    async def enqueue_many(self, messages: Sequence[TaskMessage]) -> list[Handle[Any]]:
        """Send many calls (``task.message(...)``) at once; handles in the same order
        (for a unique task already queued or running, a handle on that one)."""
        existing = await self.send(messages)
        return [Handle(self, existing.get(m.id, m.id)) for m in messages]

    def enqueue_many_sync(self, messages: Sequence[TaskMessage]) -> list[SyncHandle[Any]]:
        """Sync :meth:`enqueue_many`."""
        existing = self.send_sync(messages)
        return [SyncHandle(self, existing.get(m.id, m.id)) for m in messages]

    def handle(self, task_id: str) -> Handle[Any]:
        """A handle on a task by id, for async code."""
        return Handle(self, task_id)

    def sync_handle(self, task_id: str) -> SyncHandle[Any]:
        """A handle on a task by id, for sync code."""
        return SyncHandle(self, task_id)

    async def revoke(self, *tasks: str | Handle[Any] | SyncHandle[Any]) -> None:
        """Revoke tasks (ids or handles): a queued or delayed task never runs, a running
        ``async def`` task is cancelled and one in the process pool killed; a plain
        function in the thread pool cannot be stopped: it sees ``current_task().revoked``.
        Remembered for ``result_ttl`` (a day) so that workers started later honour it."""
        ids = [t if isinstance(t, str) else t.id for t in tasks]
        places = await self.broker.revoke(ids, self.result_ttl or REVOKE_TTL)
        for task_id, place in zip(ids, places, strict=True):
            if place:  # taken out before reaching a queue: record it here
                record = revoked_record(task_id, f"revoked while {place}")
                data = record.encode(self.codec)
                await self.broker.store_result(task_id, record.state, data, self.result_ttl)

    async def task_info(self, task_id: str) -> TaskInfo | None:
        """A task's state, place (queued, scheduled, waiting, running, done) and result
        record; None when nothing is known of it (never sent, or its record expired)."""
        return await introspection.task_info(self, task_id)

    async def list_tasks(
        self, place: str, queue: str | None = None, *, limit: int = 100
    ) -> list[TaskInfo]:
        """Up to ``limit`` tasks of a queue (default: the default queue) in one place:
        ``queued`` in order, ``scheduled`` soonest first, ``waiting`` for parents,
        ``running`` (taken by a worker) or ``done`` (most recent first, the last 1000)."""
        return await introspection.list_tasks(self, place, queue, limit)

    async def control(
        self,
        request: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        destination: Sequence[str] | None = None,
        timeout: float = 1.0,
        reply: bool = True,
    ) -> list[dict[str, Any]]:
        """Ask the running workers (or those named in ``destination``) something, and
        collect their replies for up to ``timeout`` seconds: each ``{"worker": name,
        "reply": ...}`` or ``{"worker": name, "error": "..."}``. Requests: ``ping``,
        ``stats``, ``active``, ``reserved``, ``registered``, ``active_queues``,
        ``revoked``, ``query_task`` (``{"ids": [...]}``), ``shutdown``, ``rate_limit``
        (``{"task", "per_second"}``), ``time_limit`` (``{"task", "soft", "hard"}``),
        ``add_consumer`` and ``cancel_consumer`` (``{"queue"}``)."""
        request_id = new_id()
        message = {
            "request": request,
            "id": request_id,
            "arguments": dict(arguments or {}),
            "destination": list(destination) if destination else None,
            "reply": reply,
        }
        heard = await self.broker.publish_control(json.dumps(message).encode())
        if not reply or heard == 0:
            return []
        if destination:
            expected: int | None = len(destination)
        elif heard > 0:
            expected = heard
        else:  # not known (a Cluster): the workers alive
            expected = len(await self.workers()) or None
        found = []
        for data in await self.broker.replies(request_id, expected, timeout):
            try:
                found.append(json.loads(data))
            except ValueError:
                logger.warning("Skipping an unreadable control reply: %.200r", data)
        return sorted(found, key=lambda answer: str(answer.get("worker")))

    async def workers(self) -> list[WorkerInfo]:
        """The workers alive now, with their queues, concurrency and counters."""
        found = []
        for data in await self.broker.workers():
            try:
                found.append(WorkerInfo.decode(data))
            except DecodeError as exc:
                logger.warning("Skipping a worker's unreadable info: %s", exc)
        return sorted(found, key=lambda info: info.started)

    def events(self, after: str = "$", *, timeout: float | None = None) -> AsyncIterator[TaskEvent]:
        """Task events from workers run with ``events=True`` (Celery's ``-E``), oldest
        first, each with its stream ``id``: ``async for event in app.events(): ...``.

        ``after``: a stream entry id; ``"$"`` (only new events) or ``"0"`` (from the
        oldest kept: the stream keeps about the last 10,000). ``timeout``: None iterates
        until cancelled; a number stops after that many seconds without an event.
        Unreadable entries are logged and skipped."""
        return read_events(self, after, timeout)

    @property
    def sync_broker(self) -> SyncBroker:
        if self._sync_broker is None:
            self._sync_broker = self.broker.sync()
        return self._sync_broker

    # -- lifetime -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this event loop's broker connections."""
        await self.broker.aclose()

    def close(self) -> None:
        """Close the sync producer's connections."""
        if self._sync_broker is not None:
            self._sync_broker.close()
            self._sync_broker = None

    async def __aenter__(self) -> App:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
