"""The child's side of the process pool: a loop that runs the calls read from a pipe.

Everything here runs in a forked child. It leaves alone what it inherited from the
worker (event loop, sockets, Redis connections): it reads a call, runs the function,
writes the reply, and ends when the pipe closes or a limit retires the child.
"""

from __future__ import annotations

import multiprocessing
import pickle
import resource
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from types import FrameType
from typing import Any

from ..context import TaskContext, _current
from ..errors import EncodeError, NotRegistered, SoftTimeLimitExceeded
from ..message import TaskMessage
from ..result import ExceptionInfo

__all__ = ["READY", "Call", "Reply", "main"]

PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
READY = b"ready"  # a child's first message: started, ``init`` done


@dataclass(frozen=True)
class Call:
    """A function to run, sent by the parent; with the task's message and the worker's
    name, so that ``current_task()`` works in the child as in the worker."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    soft_timeout: float | None = None
    message: TaskMessage | None = None
    worker: str = ""


@dataclass(frozen=True)
class Reply:
    """What the child sends back. On success ``value`` holds the pickled return value;
    on failure ``info`` describes the exception and ``error`` holds it pickled, when it
    could be. ``rss`` is the child's peak resident memory (KiB); ``leaving`` says the
    child exits after this reply; ``children`` are the ids of the tasks the call sent."""

    value: bytes = b""
    info: ExceptionInfo | None = None
    error: bytes | None = None
    rss: int = 0
    leaving: bool = False
    children: tuple[str, ...] = ()


# The call being run, while the soft time limit may interrupt it (None between calls).
_running: Call | None = None


def main(
    conn: Connection,
    close: Sequence[Connection],
    functions: Mapping[str, Callable[..., Any]],
    max_tasks: int | None,
    max_memory: int | None,
    *,
    init: Callable[[], None] | None = None,
) -> None:
    """The child process: drop the parent's pipe ends, set up signals, run ``init``,
    serve calls."""
    for other in close:
        other.close()
    # Like Celery's pool the children are daemonic (the parent's interpreter stops them
    # at exit); unlike it, a task may still start processes of its own.
    multiprocessing.current_process().daemon = False
    _setup_signals()
    if init is not None:
        init()
    conn.send_bytes(READY)  # the parent waits for this before it sends calls
    _serve(conn, functions, max_tasks, max_memory)


def _setup_signals() -> None:
    """SIGINT is the parent's to handle; SIGUSR1 is the soft time limit; signals the
    worker's event loop was watching go back to their default action."""
    signal.set_wakeup_fd(-1)  # the wakeup socket belongs to the parent's event loop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _soft_time_limit)
    for sig in (signal.SIGTERM, signal.SIGCHLD):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1, signal.SIGTERM})


def _soft_time_limit(signum: int, frame: FrameType | None) -> None:
    """Raise SoftTimeLimitExceeded in the running call, once; ignore it between calls."""
    global _running
    call, _running = _running, None
    if call is not None:
        raise SoftTimeLimitExceeded(f"soft time limit ({call.soft_timeout}s) exceeded")


def _serve(
    conn: Connection,
    functions: Mapping[str, Callable[..., Any]],
    max_tasks: int | None,
    max_memory: int | None,
) -> None:
    done = 0
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:  # the parent closed the pipe: nothing more to do
            return
        reply = _execute(functions, data)
        done += 1
        rss = _peak_rss()
        leaving = (max_tasks is not None and done >= max_tasks) or (
            max_memory is not None and rss > max_memory
        )
        try:
            conn.send_bytes(pickle.dumps(replace(reply, rss=rss, leaving=leaving), PICKLE_PROTOCOL))
        except OSError:  # the parent is gone
            return
        if leaving:
            return


def _execute(functions: Mapping[str, Callable[..., Any]], data: bytes) -> Reply:
    """Run one call and turn its outcome into a reply; never raises an Exception."""
    global _running
    try:
        call: Call = pickle.loads(data)
        fn = _lookup(functions, call.name)
        ctx = TaskContext(call.message, call.worker) if call.message else None
        token = _current.set(ctx) if ctx is not None else None
        _running = call
        try:
            value = fn(*call.args, **call.kwargs)
        finally:
            _running = None
            if token is not None:
                _current.reset(token)
    except Exception as exc:
        return _failure(_without_our_frames(exc))
    reply = _success(call.name, value)
    return replace(reply, children=tuple(ctx.children)) if ctx and ctx.children else reply


def _lookup(functions: Mapping[str, Callable[..., Any]], name: str) -> Callable[..., Any]:
    try:
        return functions[name]
    except KeyError:
        raise NotRegistered(
            f"no function {name!r} in this child process: was it registered after the pool started?"
        ) from None


def _success(name: str, value: Any) -> Reply:
    try:
        return Reply(value=pickle.dumps(value, PICKLE_PROTOCOL))
    except Exception as exc:
        error = EncodeError(
            f"{name!r} returned a {_type_name(value)} object, which cannot be pickled to "
            f"leave its child process ({exc}): return plain data (str, int, list, dict...)"
        )
        error.__cause__ = exc
        return _failure(error)


def _failure(exc: Exception) -> Reply:
    info = ExceptionInfo.from_exception(exc)
    if not _round_trips(info.args):  # keep the reply readable whatever the args hold
        info = replace(info, args=(info.message,))
    try:
        error: bytes | None = pickle.dumps(exc, PICKLE_PROTOCOL)
    except Exception:
        error = None
    return Reply(info=info, error=error)


def _round_trips(value: Any) -> bool:
    try:
        pickle.loads(pickle.dumps(value, PICKLE_PROTOCOL))
    except Exception:
        return False
    return True


def _without_our_frames(exc: Exception) -> Exception:
    """Start the traceback at the task's own frame, as users expect to see theirs."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next
    return exc.with_traceback(tb) if tb is not None else exc


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def _peak_rss() -> int:
    """The most resident memory this process has used, in KiB (bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
