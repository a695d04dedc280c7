"""A worker's plain-function pool: how many plain (sync) functions run at once, its
seats; where they run, threads or the process pool's children (``pool.py``); and that
number changing while the worker runs (:meth:`PlainPool.resize`: Celery's pool_grow and
pool_shrink, and the autoscaler)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import anyio
import anyio.abc

from ..app import App
from ..logs import worker_logger as logger
from .jobs import Jobs, Seats
from .run import Job, SyncPool

__all__ = ["POOLS", "PlainPool"]

POOLS = ("threads", "processes")


class PlainPool:
    """The seats for plain functions, their threads or processes, and their runners:
    coroutines that each take a job and run it once it has a seat."""

    def __init__(
        self,
        app: App,
        kind: str,
        size: int,
        *,
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | None = None,
        child_init: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.kind = kind
        self.size = size
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child = max_memory_per_child
        self.child_init = child_init
        self.seats = Seats(size)  # plain functions running at once
        self.threads: anyio.CapacityLimiter | None = None  # while open
        self.processes: SyncPool | None = None  # the process pool, while open
        self.busy = 0  # jobs taken by a runner, running or waiting for a seat
        self._runners = 0
        self._jobs: Jobs[Job] | None = None  # while serving
        self._add_runner: Callable[[], None] | None = None  # while serving
        self._resizing: anyio.Lock | None = None

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[SyncPool | None]:
        """The pool open: the thread limit set, or the process pool's children forked."""
        self._resizing = anyio.Lock()
        self.threads = anyio.CapacityLimiter(self.size)
        if self.kind != "processes":
            yield None
            return
        from .pool import ProcessPool

        async with ProcessPool(
            _SyncFunctions(self.app),
            self.size,
            max_tasks_per_child=self.max_tasks_per_child,
            max_memory_per_child=self.max_memory_per_child,
            child_init=self.child_init,
        ) as pool:
            self.processes = pool
            try:
                yield pool
            finally:
                self.processes = None

    @contextlib.contextmanager
    def serving(
        self,
        jobs: Jobs[Job],
        run_one: Callable[[Job], Awaitable[None]],
        runners: anyio.abc.TaskGroup,
    ) -> Iterator[None]:
        """Runners for ``jobs`` (each job run by ``run_one``), one per seat, in
        ``runners``; more as seats are added while this lasts."""
        self._jobs = jobs
        self._run_one = run_one
        self._runners = 0

        def add_runner() -> None:
            self._runners += 1
            runners.start_soon(self._run_jobs)

        for _ in range(self.size):
            add_runner()
        self._add_runner = add_runner
        try:
            yield
        finally:
            self._add_runner = None

    async def _run_jobs(self) -> None:
        """A job runs once it has a seat (their number can change)."""
        jobs, seats = self._jobs, self.seats
        assert jobs is not None
        while (job := await jobs.next()) is not None:
            self.busy += 1
            try:
                await seats.take()
                try:
                    await self._run_one(job)
                finally:
                    seats.give_back()
            finally:
                self.busy -= 1

    async def resize(self, size: int) -> None:
        """``size`` seats from now on: the process pool forks or stops children, the
        thread limit moves, runners are added. Running functions finish."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"the pool needs at least one seat, got {size!r}")
        if self._resizing is None:  # not open: only the numbers change
            self._resizing = anyio.Lock()
        async with self._resizing:
            if self.processes is not None:
                await self.processes.resize(size)
            self.size = size
            self.seats.resize(size)
            if self.threads is not None:
                self.threads.total_tokens = size
            while self._add_runner is not None and self._runners < size:
                self._add_runner()

    @property
    def demand(self) -> int:
        """Plain-function jobs held: running, or waiting for a seat (in line or taken)."""
        waiting = len(self._jobs) if self._jobs is not None else 0
        return self.busy + waiting

    def seat_kind(self, count: int) -> str:
        """What ``count`` seats are, for logs: ``processes``, ``thread``..."""
        kind = "process" if self.kind == "processes" else "thread"
        return kind if count == 1 else f"{kind}es" if kind == "process" else f"{kind}s"

    def renew(self) -> None:
        """Fork the process pool's children again before their next task (threads need
        not: they see the tasks registered since)."""
        if self.processes is not None:
            self.processes.renew()

    def warn_about_time_limits(self) -> None:
        if self.kind != "threads":
            return
        for task in self.app.tasks.values():
            if not task.is_async and (task.defaults.timeout or task.defaults.soft_timeout):
                logger.warning(
                    "Task %s has a time limit, but plain functions in the thread pool cannot "
                    "be stopped: it will not be enforced (use sync_pool='processes').",
                    task.name,
                )


class _SyncFunctions(Mapping[str, Callable[..., Any]]):
    """The app's plain-function tasks, read when asked: children forked later (renewed,
    recycled) know the tasks registered since the pool started."""

    def __init__(self, app: App) -> None:
        self._tasks = app.tasks

    def __getitem__(self, name: str) -> Callable[..., Any]:
        task = self._tasks[name]
        if task.is_async:
            raise KeyError(name)
        return task.fn

    def __iter__(self) -> Iterator[str]:
        return (name for name, task in list(self._tasks.items()) if not task.is_async)

    def __len__(self) -> int:
        return sum(1 for _ in self)
