"""`ProcessPool`: plain functions run in forked child processes, like Celery's prefork pool.

A thread cannot be stopped, a process can: a sync task that must obey a hard time limit
runs in a child process, which is killed and replaced when the limit passes.

How it works:

* The pool has ``size`` seats, each holding one child forked from the worker (start
  method ``fork``), so children inherit the functions and find them by name. A ``run``
  borrows a seat for one call; callers beyond ``size`` wait in line (a semaphore).
* Calls and replies travel pickled over the seat's pipe (a socket pair). The parent
  waits for a reply with ``anyio.wait_readable``, so the event loop runs on meanwhile; a
  child that dies closes its end, which the parent reads as end of file: the call is lost.
* Time limits are cancel scopes around that wait. At the soft limit the parent sends
  SIGUSR1 and the child raises SoftTimeLimitExceeded inside the task (see ``_child.py``).
  At the hard limit, or when the caller is cancelled, the parent sends SIGKILL.
* ``resize`` changes the number of seats at run time (Celery's ``pool_grow``,
  ``pool_shrink`` and autoscaling): a new seat forks its child when first borrowed; a
  seat beyond the new size leaves once idle (a call in progress finishes first), its
  child stopped with SIGTERM.
* A seat whose child is gone (killed, lost, retired by ``max_tasks_per_child`` or
  ``max_memory_per_child``, or dead while idle) gets a new child when it is next
  borrowed, forked then from the parent. Nothing runs in the background.
* Leaving the pool sends SIGTERM to every child, SIGKILL to those still alive after a
  short wait, and collects them all.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import anyio

from ..context import _current
from ..errors import (
    ConfigurationError,
    EncodeError,
    NotRegistered,
    RemoteTaskError,
    TimeLimitExceeded,
    WorkerLostError,
)
from ..logs import worker_logger as logger
from ..message import TaskMessage
from ..result import ExceptionInfo
from . import _child
from ._child import PICKLE_PROTOCOL, READY, Call, Reply

__all__ = ["ProcessPool"]

# How long a child told to stop (SIGTERM), or already on its way out, gets before SIGKILL.
_STOP_GRACE = 2.0


class _Child:
    """One child process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection, generation: int = 0) -> None:
        pid = process.pid
        if pid is None:
            raise AssertionError("the child process was not started")
        self.pid = pid
        self.process = process
        self.conn = conn
        self.leaving = False  # it exits, or was killed: replace it before its next call
        self.generation = generation  # the pool's, when it forked (see ProcessPool.renew)

    def alive(self) -> bool:
        return self.process.exitcode is None

    def _blocking(self) -> None:
        """Waiting for the pipe through the event loop may leave it non-blocking (uvloop
        does): a transfer larger than the pipe's buffer would then stop halfway."""
        with contextlib.suppress(OSError):
            os.set_blocking(self.conn.fileno(), True)

    def send(self, data: bytes) -> None:
        self._blocking()
        with contextlib.suppress(OSError):  # it died first: reading the reply will tell
            self.conn.send_bytes(data)

    async def receive(self, soft_timeout: float | None) -> bytes | None:
        """The reply, or None when the child died first. After ``soft_timeout`` seconds
        the child is sent SIGUSR1 (once), and the wait goes on."""
        with anyio.move_on_after(soft_timeout) as soft:
            await anyio.wait_readable(self.conn)
        if soft.cancelled_caught:
            self.signal(signal.SIGUSR1)
            await anyio.wait_readable(self.conn)
        self._blocking()  # the child is writing: the rest of its reply follows at once
        try:
            return self.conn.recv_bytes()
        except (EOFError, OSError):
            return None

    def signal(self, sig: int) -> None:
        if self.alive():  # not yet collected: the pid is still this child's
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def kill(self) -> None:
        self.leaving = True
        self.signal(signal.SIGKILL)

    async def reap(self, grace: float = _STOP_GRACE) -> int | None:
        """Close its pipe (an idle child then ends), wait for the child to end (SIGKILL
        after ``grace`` seconds) and collect it. Returns its exit code, negative for a
        signal."""
        self.conn.close()
        with anyio.move_on_after(grace):
            await anyio.wait_readable(self.process.sentinel)
        self.signal(signal.SIGKILL)
        self.process.join()  # it has ended, or was just sent SIGKILL: a moment at most
        code = self.process.exitcode
        self.process.close()
        return code


class ProcessPool:
    """Child processes that run sync functions, prefork-style (fork, POSIX only).

    ``functions`` maps names to the functions the children may run; at most ``size``
    calls run at once, one per child. A child is replaced after ``max_tasks_per_child``
    calls, or after a call leaves it above ``max_memory_per_child`` KiB of resident
    memory (Celery's settings of the same names). Use it with ``async with``, and leave
    it once its calls have ended.
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]],
        size: int,
        *,
        max_tasks_per_child: int | None = None,
        max_memory_per_child: int | None = None,
        child_init: Callable[[], None] | None = None,
    ) -> None:
        _check(
            size=size,
            max_tasks_per_child=max_tasks_per_child,
            max_memory_per_child=max_memory_per_child,
        )
        self.functions = functions
        self.size = size
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child = max_memory_per_child
        self.child_init = child_init
        self._context = multiprocessing.get_context("fork")
        self._children: dict[int, _Child | None] = dict.fromkeys(range(size))  # by seat
        self._idle: list[int] = []  # seats not lent to a call
        self._retiring = 0  # seats to take away as soon as they are given back
        self._room: anyio.Semaphore | None = None  # set while the pool is open
        self._started = 0  # children forked so far; they are named after it
        self._generation = 0  # bumped by renew(): older children are replaced

    async def __aenter__(self) -> ProcessPool:
        if self._room is not None:
            raise RuntimeError("this process pool is already open")
        try:
            for seat in self._children:
                self._children[seat] = self._fork()
            for child in list(self._children.values()):  # started together, awaited in turn
                assert child is not None
                await self._wait_started(child)
        except BaseException:
            await self._stop()
            raise
        self._idle = list(range(self.size))
        self._room = anyio.Semaphore(self.size)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._room = None
        await self._stop()

    async def run(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        soft_timeout: float | None = None,
        timeout: float | None = None,
        message: TaskMessage | None = None,
        worker: str = "",
    ) -> Any:
        """Run ``functions[name](*args, **kwargs)`` in a child; return what it returns.
        With ``message``, the call sees it (and ``worker``) through ``current_task()``.

        Raises what the function raised, rebuilt here (RemoteTaskError when it cannot
        be), with the child's ExceptionInfo as ``__celeriac_info__``; that includes
        SoftTimeLimitExceeded, raised in the task after ``soft_timeout`` seconds, and
        EncodeError for a return value that cannot be pickled. Raises TimeLimitExceeded
        after ``timeout`` seconds, and WorkerLostError when the child dies meanwhile;
        the child is then replaced.
        """
        call = self._encode(Call(name, tuple(args), dict(kwargs), soft_timeout, message, worker))
        async with self._seat() as seat:
            child = await self._ready(seat)
            data = await self._exchange(child, call, soft_timeout, timeout)
            if data is None:
                raise await self._lost(seat, child, name)
            reply = self._read(child, name, data)
        if reply.children:  # the tasks it sent are the running task's children
            running = _current.get(None)
            if running is not None:
                running.children.extend(reply.children)
        return _outcome(name, reply)

    def renew(self) -> None:
        """Replace every child before its next call, forked from the worker as it is now
        (so they know the tasks registered since); a child in a call finishes it first."""
        self._generation += 1

    async def resize(self, size: int) -> None:
        """Have ``size`` seats from now on. New seats fork their child when first used;
        seats beyond ``size`` go at once when idle, else when their call has finished."""
        _check(size=size)
        room = self._room
        if room is None:
            raise RuntimeError("the process pool is not open: use 'async with' first")
        leaving: list[_Child] = []
        current = self.size
        while current < size and self._retiring:  # a shrink not done yet: undo it
            self._retiring -= 1
            current += 1
        while current < size:
            seat = max(self._children, default=-1) + 1
            self._children[seat] = None
            self._idle.append(seat)
            room.release()
            current += 1
        while current > size:
            try:
                room.acquire_nowait()
            except anyio.WouldBlock:  # every seat is busy: the next one given back goes
                self._retiring += 1
            else:
                child = self._children.pop(self._idle.pop())
                if child is not None:
                    leaving.append(child)
            current -= 1
        self.size = size
        await _retire(leaving)

    # -- seats and children -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _seat(self) -> AsyncIterator[int]:
        """Borrow a seat, waiting in line for one when all are busy."""
        room = self._room
        if room is None:
            raise RuntimeError("the process pool is not open: use 'async with' first")
        await room.acquire()
        if self._room is not room:
            room.release()
            raise RuntimeError("the process pool was closed while this call waited")
        seat = self._idle.pop()
        try:
            yield seat
        finally:
            if self._retiring and self._room is room:  # the pool shrank meanwhile
                self._retiring -= 1
                child = self._children.pop(seat, None)
                await _retire([child] if child is not None else [])
            else:
                self._idle.append(seat)
                room.release()

    async def _ready(self, seat: int) -> _Child:
        """The seat's child, replaced first when it is gone or due to go."""
        child = self._children[seat]
        renewed = child is not None and child.generation != self._generation
        if child is not None and (child.leaving or renewed or not child.alive()):
            expected = child.leaving or renewed
            code = await child.reap()
            if not expected:
                logger.warning(
                    "Child process %d exited with %s while idle, replaced", child.pid, _how(code)
                )
            self._children[seat] = child = None
        if child is None:
            child = self._children[seat] = self._fork()
            await self._wait_started(child)
        return child

    async def _wait_started(self, child: _Child) -> None:
        """Wait for a new child's first message: it runs calls only after its
        ``child_init`` (Celery's ``worker_process_init``) has returned."""
        if await child.receive(None) != READY:
            child.leaving = True
            raise WorkerLostError(
                f"child process {child.pid} exited while starting: did its child_init "
                "(worker_process_init) fail? Its error is in the worker's output."
            )

    def _fork(self) -> _Child:
        parent_end, child_end = self._context.Pipe()
        self._started += 1
        siblings = [c.conn for c in self._children.values() if c is not None]
        process = self._context.Process(
            target=_child.main,
            args=(
                child_end,
                [parent_end, *siblings],  # the child closes the parent's ends
                self.functions,
                self.max_tasks_per_child,
                self.max_memory_per_child,
            ),
            kwargs={"init": self.child_init},
            name=f"ForkPoolWorker-{self._started}",
            daemon=True,
        )
        with warnings.catch_warnings():
            # Python 3.12+ warns when a process with threads forks, as another thread may
            # hold a lock the child would wait on forever. Acceptable here: the child
            # runs only the loop of _child.py and the tasks, never the worker's threads,
            # event loop or clients.
            warnings.filterwarnings(
                "ignore", r"This process .* is multi-threaded, use of fork\(\)", DeprecationWarning
            )
            process.start()
        child_end.close()
        return _Child(process, parent_end, self._generation)

    async def _stop(self) -> None:
        """SIGTERM every child, then collect them (SIGKILL for the slow); shielded, so
        that no child is left behind even when the caller is cancelled."""
        children = [c for c in self._children.values() if c is not None]
        self._children = dict.fromkeys(self._children)
        await _retire(children)

    # -- one call -------------------------------------------------------------------------

    def _encode(self, call: Call) -> bytes:
        if call.name not in self.functions:
            raise NotRegistered(f"no function {call.name!r} in this process pool")
        try:
            return pickle.dumps(call, PICKLE_PROTOCOL)
        except Exception as exc:
            raise EncodeError(
                f"the arguments of {call.name!r} cannot be pickled for a child process: {exc}"
            ) from exc

    async def _exchange(
        self, child: _Child, call: bytes, soft_timeout: float | None, timeout: float | None
    ) -> bytes | None:
        """Send the call and wait for its reply (None when the child died first). The
        child is killed at the hard time limit, or when the caller is cancelled."""
        child.send(call)
        data: bytes | None = None
        try:
            with anyio.move_on_after(timeout) as limit:
                data = await child.receive(soft_timeout)
        except BaseException:
            child.kill()  # cancelled: the call must not run on with no one waiting
            raise
        if limit.cancelled_caught:
            child.kill()
            raise TimeLimitExceeded(f"hard time limit ({timeout}s) exceeded")
        return data

    async def _lost(self, seat: int, child: _Child, name: str) -> WorkerLostError:
        child.leaving = True  # should this be cancelled, the seat's next user collects it
        code = await child.reap()
        self._children[seat] = None
        return WorkerLostError(
            f"child process {child.pid} exited with {_how(code)} while running {name!r}"
        )

    def _read(self, child: _Child, name: str, data: bytes) -> Reply:
        child.leaving = True  # until the reply says otherwise: unreadable means replaced
        reply: Reply = _load(data, name)
        child.leaving = reply.leaving
        limit = self.max_memory_per_child
        if reply.leaving and limit is not None and reply.rss > limit:
            logger.warning(
                "Child process %d exceeded its memory limit: %d KiB > %d KiB, replaced",
                child.pid,
                reply.rss,
                limit,
            )
        return reply


async def _retire(children: list[_Child]) -> None:
    """SIGTERM these children, then collect them (SIGKILL for the slow); shielded, so
    that no child is left behind even when the caller is cancelled."""
    for child in children:
        child.leaving = True
        child.signal(signal.SIGTERM)
    with anyio.CancelScope(shield=True):
        deadline = anyio.current_time() + _STOP_GRACE
        for child in children:
            await child.reap(max(0.0, deadline - anyio.current_time()))


def _check(**settings: int | None) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        raise ConfigurationError(
            "the process pool needs the fork start method (POSIX): run sync tasks in threads"
        )
    for what, value in settings.items():
        if value is not None and value < 1:
            raise ConfigurationError(f"{what} must be at least 1, got {value}")


def _outcome(name: str, reply: Reply) -> Any:
    if reply.info is None:
        return _load(reply.value, name)
    raise _rebuilt(reply, reply.info)


def _rebuilt(reply: Reply, info: ExceptionInfo) -> BaseException:
    """The task's exception, unpickled; a RemoteTaskError when it cannot be."""
    exc: object = None
    if reply.error is not None:
        with contextlib.suppress(Exception):
            exc = pickle.loads(reply.error)
    if not isinstance(exc, BaseException):
        exc = RemoteTaskError(info.qualified_name, info.message, info.traceback)
    return _with_info(exc, info)


def _load(data: bytes, name: str) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:
        error = EncodeError(f"the result of {name!r} cannot be unpickled in the worker: {exc}")
        error.__cause__ = exc
        raise _with_info(error, ExceptionInfo.from_exception(error)) from exc


def _with_info(exc: BaseException, info: ExceptionInfo) -> BaseException:
    exc.__celeriac_info__ = info  # type: ignore[attr-defined]
    return exc


def _how(code: int | None) -> str:
    """An exit code in words: "exit code 3", "signal SIGKILL"."""
    if code is None:
        return "an unknown status"
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"
