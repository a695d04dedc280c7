"""The process pool: sync functions in forked children, with time limits, recycling and
replacement of lost children. The functions under test are this module's; the children
inherit them when they are forked."""

from __future__ import annotations

import logging
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from celeriac.core.errors import (
    ConfigurationError,
    EncodeError,
    NotRegistered,
    RemoteTaskError,
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
    WorkerLostError,
)
from celeriac.core.result import ExceptionInfo
from celeriac.core.worker import pool as pool_module
from celeriac.core.worker.pool import ProcessPool

pytestmark = pytest.mark.anyio

LIMIT = 10  # seconds any one test may take

# -- what the children run ---------------------------------------------------------------


def add(x: int, y: int) -> int:
    return x + y


def pid(delay: float = 0.0) -> int:
    time.sleep(delay)
    return os.getpid()


def span(delay: float) -> tuple[int, float, float]:
    start = time.monotonic()  # the same clock in every process
    time.sleep(delay)
    return os.getpid(), start, time.monotonic()


def fail(n: int) -> None:
    raise ValueError(f"bad input {n}")


class Locked(Exception):
    """Cannot be pickled: it holds a lock."""

    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


class TwoArgs(Exception):
    """Pickles, but cannot be unpickled: its args do not fit its __init__."""

    def __init__(self, first: str, second: str) -> None:
        super().__init__(first)
        self.second = second


def fail_locked() -> None:
    raise Locked


def fail_two_args() -> None:
    raise TwoArgs("first", "second")


def return_lock() -> object:
    return threading.Lock()


def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def cleans_up(seconds: float) -> str:
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        return "cleaned up"
    return "slept"


def exit3() -> None:
    os._exit(3)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def allocate(megabytes: int) -> int:
    hoard = b"\x01" * (megabytes * 1024 * 1024)  # written, so resident
    return os.getpid() if hoard else 0


def ignore_sigterm() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return os.getpid()


def echo_size(data: bytes) -> bytes:
    return data + data  # twice as large back


FUNCTIONS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        add,
        echo_size,
        pid,
        span,
        fail,
        fail_locked,
        fail_two_args,
        return_lock,
        sleepy,
        cleans_up,
        exit3,
        kill_self,
        peak_rss,
        allocate,
        ignore_sigterm,
    )
}

# -- helpers -------------------------------------------------------------------------------


def collected(child: int) -> bool:
    """The process is gone and was waited for (no zombie left)."""
    try:
        os.waitpid(child, os.WNOHANG)
    except ChildProcessError:
        pass
    else:
        return False
    try:
        os.kill(child, 0)
    except ProcessLookupError:
        return True
    return False


async def dead(child: int) -> None:
    """Wait until a child killed from outside has ended (a zombie: not yet collected)."""
    stat = anyio.Path(f"/proc/{child}/stat")
    while (await stat.read_text()).rsplit(")", 1)[1].split()[0] != "Z":
        await anyio.sleep(0.01)


def most_at_once(spans: list[tuple[int, float, float]]) -> int:
    events = sorted([(start, 1) for _, start, _ in spans] + [(end, -1) for _, _, end in spans])
    running = most = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def info_of(exc: BaseException) -> ExceptionInfo:
    info = exc.__celeriac_info__  # type: ignore[attr-defined]
    assert isinstance(info, ExceptionInfo)
    return info


# -- results and errors --------------------------------------------------------------------


async def test_returns_the_value() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            assert await pool.run("add", (2, 3), {}) == 5
            assert await pool.run("add", (), {"x": 1, "y": 1}) == 2
            assert await pool.run("pid", (), {}) != os.getpid()


async def test_calls_and_replies_far_larger_than_a_pipe_buffer() -> None:
    """The event loop may leave the pipe non-blocking (uvloop does): a large call or
    reply must still travel whole, not hang the call or lose the child."""
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            for size in (1 << 16, 1 << 20, 8 << 20):
                data = os.urandom(size)
                assert await pool.run("echo_size", (data,), {}) == data + data
            assert await pool.run("add", (2, 3), {}) == 5


async def test_raises_the_exception_with_the_childs_traceback() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            with pytest.raises(ValueError, match=r"^bad input 7$") as caught:
                await pool.run("fail", (7,), {})
            assert await pool.run("add", (1, 2), {}) == 3  # the child carries on
    info = info_of(caught.value)
    assert (info.type_name, info.message, info.args) == (
        "ValueError",
        "bad input 7",
        ("bad input 7",),
    )
    assert info.traceback is not None
    assert 'test_pool.py", line' in info.traceback and "in fail\n" in info.traceback
    assert "_child.py" not in info.traceback  # starts at the task's own frame


@pytest.mark.parametrize(("name", "kind"), [("fail_locked", Locked), ("fail_two_args", TwoArgs)])
async def test_an_exception_that_cannot_travel_becomes_remote_task_error(
    name: str, kind: type[Exception]
) -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            with pytest.raises(RemoteTaskError) as caught:
                await pool.run(name, (), {})
    error = caught.value
    assert error.exc_type == f"{__name__}.{kind.__qualname__}"
    assert error.message == ("holds a lock" if kind is Locked else "first")
    assert error.remote_traceback is not None and f"in {name}\n" in error.remote_traceback
    assert info_of(error).type_name == kind.__qualname__


async def test_a_return_value_that_cannot_be_pickled_is_an_encode_error() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            with pytest.raises(
                EncodeError, match=r"'return_lock' returned a _thread\.lock"
            ) as caught:
                await pool.run("return_lock", (), {})
            assert await pool.run("add", (1, 2), {}) == 3
    assert info_of(caught.value).type_name == "EncodeError"


async def test_unknown_names_and_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="size must be at least 1"):
        ProcessPool(FUNCTIONS, 0)
    with pytest.raises(ConfigurationError, match="max_tasks_per_child must be at least 1"):
        ProcessPool(FUNCTIONS, 1, max_tasks_per_child=0)
    pool = ProcessPool(FUNCTIONS, 1)
    with pytest.raises(RuntimeError, match="not open"):
        await pool.run("add", (1, 2), {})
    with anyio.fail_after(LIMIT):
        async with pool:
            with pytest.raises(NotRegistered, match="no function 'nope'"):
                await pool.run("nope", (), {})


# -- concurrency ---------------------------------------------------------------------------


async def test_size_children_run_at_once_and_callers_beyond_wait() -> None:
    spans: list[tuple[int, float, float]] = []

    async def call(pool: ProcessPool) -> None:
        spans.append(await pool.run("span", (0.3,), {}))

    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 2) as pool, anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(call, pool)
    assert len(spans) == 4
    assert len({child for child, _, _ in spans}) == 2
    assert most_at_once(spans) == 2


# -- time limits ---------------------------------------------------------------------------


async def test_soft_time_limit_caught_by_the_task() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            before = await pool.run("pid", (), {})
            assert (
                await pool.run("cleans_up", (5,), {}, soft_timeout=0.2, timeout=5) == "cleaned up"
            )
            assert await pool.run("pid", (), {}) == before  # the child lives on


async def test_soft_time_limit_not_caught_reaches_the_caller() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            with pytest.raises(SoftTimeLimitExceeded, match=r"soft time limit \(0.2s\)") as caught:
                await pool.run("sleepy", (5,), {}, soft_timeout=0.2)
            assert await pool.run("sleepy", (0,), {}, soft_timeout=0.2) == "woke"
    traceback = info_of(caught.value).traceback
    assert traceback is not None and "in sleepy\n" in traceback


async def test_a_stray_soft_limit_signal_between_tasks_is_ignored() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            child = await pool.run("pid", (), {})
            os.kill(child, signal.SIGUSR1)
            await anyio.sleep(0.2)  # let the idle child take the signal
            assert await pool.run("sleepy", (0.1,), {}) == "woke"
            assert await pool.run("pid", (), {}) == child


async def test_hard_time_limit_kills_and_replaces_the_child() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            before = await pool.run("pid", (), {})
            with pytest.raises(TimeLimitExceeded, match=r"^hard time limit \(0.3s\) exceeded$"):
                await pool.run("cleans_up", (10,), {}, timeout=0.3)
            after = await pool.run("pid", (), {})
    assert after != before
    assert collected(before)


# -- lost children -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "how"), [("exit3", "exit code 3"), ("kill_self", "signal SIGKILL")]
)
async def test_a_child_that_dies_mid_task_is_a_lost_worker(name: str, how: str) -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            before = await pool.run("pid", (), {})
            with pytest.raises(WorkerLostError) as caught:
                await pool.run(name, (), {})
            assert (
                str(caught.value)
                == f"child process {before} exited with {how} while running {name!r}"
            )
            after = await pool.run("pid", (), {})
    assert after != before
    assert collected(before)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
async def test_a_child_that_died_while_idle_is_replaced(caplog: pytest.LogCaptureFixture) -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            before = await pool.run("pid", (), {})
            os.kill(before, signal.SIGKILL)
            await dead(before)
            with caplog.at_level(logging.WARNING, logger="celeriac.worker"):
                after = await pool.run("pid", (), {})
    assert after != before
    assert f"Child process {before} exited with signal SIGKILL while idle, replaced" in caplog.text


async def test_cancelling_the_caller_kills_the_child() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            before = await pool.run("pid", (), {})
            with anyio.move_on_after(0.2) as scope:
                await pool.run("cleans_up", (10,), {}, soft_timeout=5)
            assert scope.cancelled_caught
            after = await pool.run("pid", (), {})
    assert after != before
    assert collected(before)


# -- recycling -----------------------------------------------------------------------------


async def test_max_tasks_per_child_recycles_children() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1, max_tasks_per_child=2) as pool:
            pids = [await pool.run("pid", (), {}) for _ in range(6)]
    assert pids[0] == pids[1] and pids[2] == pids[3] and pids[4] == pids[5]
    assert len(set(pids)) == 3
    assert all(collected(child) for child in pids)


async def test_max_memory_per_child_replaces_a_child_that_grew(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with anyio.fail_after(LIMIT):
        # a forked child starts with the parent's resident pages: measure, then allow 20 MB
        async with ProcessPool(FUNCTIONS, 1) as pool:
            baseline = await pool.run("peak_rss", (), {})
        limit = baseline + 20_000
        async with ProcessPool(FUNCTIONS, 1, max_memory_per_child=limit) as pool:
            first = await pool.run("pid", (), {})
            assert await pool.run("pid", (), {}) == first  # below the limit: kept
            with caplog.at_level(logging.WARNING, logger="celeriac.worker"):
                assert await pool.run("allocate", (50,), {}) == first
            assert await pool.run("pid", (), {}) != first
    assert f"Child process {first} exceeded its memory limit: " in caplog.text
    assert f" KiB > {limit} KiB, replaced" in caplog.text


# -- leaving -------------------------------------------------------------------------------


async def test_leaving_the_pool_collects_every_child() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 3) as pool, anyio.create_task_group() as tg:
            pids: list[int] = []

            async def call() -> None:
                pids.append(await pool.run("pid", (0.2,), {}))

            for _ in range(3):
                tg.start_soon(call)
    assert len(set(pids)) == 3
    assert all(collected(child) for child in pids)


async def test_leaving_kills_a_child_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "_STOP_GRACE", 0.2)
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            child = await pool.run("ignore_sigterm", (), {})
    assert collected(child)


async def test_leaving_while_a_call_is_cancelled_leaves_no_child() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            child = await pool.run("pid", (), {})
            async with anyio.create_task_group() as tg:
                tg.start_soon(pool.run, "sleepy", (10,), {})
                await anyio.sleep(0.1)
                tg.cancel_scope.cancel()
    assert collected(child)


async def test_renew_forks_children_that_see_functions_added_since() -> None:
    functions = dict(FUNCTIONS)
    with anyio.fail_after(LIMIT):
        async with ProcessPool(functions, 2) as pool, anyio.create_task_group() as tg:
            first = await pool.run("pid", (), {})
            functions["added_later"] = add
            with pytest.raises(NotRegistered, match="added_later"):
                await pool.run("added_later", (1, 2), {})
            busy: list[str] = []

            async def long_call() -> None:
                busy.append(await pool.run("sleepy", (0.5,), {}))

            tg.start_soon(long_call)
            await anyio.sleep(0.1)
            pool.renew()  # the busy child finishes its call first
            started = time.monotonic()
            assert await pool.run("added_later", (1, 2), {}) == 3
            assert time.monotonic() - started < 1.5  # an idle child ends at once, no grace
            assert await pool.run("pid", (), {}) != first
    assert busy == ["woke"]
    assert collected(first)


def _slow_init() -> None:
    time.sleep(0.3)
    os.environ["POOL_TEST_INIT"] = "done"


def _failing_init() -> None:
    os._exit(7)  # as a child whose init raised would: gone before it was ready


def init_seen() -> str | None:
    return os.environ.get("POOL_TEST_INIT")


async def test_the_pool_opens_once_every_child_ran_its_init() -> None:
    functions = {**FUNCTIONS, "init_seen": init_seen}
    with anyio.fail_after(LIMIT):
        started = time.monotonic()
        async with ProcessPool(functions, 2, child_init=_slow_init) as pool:
            opened = time.monotonic() - started
            assert await pool.run("init_seen", (), {}) == "done"
    assert opened >= 0.3


async def test_a_child_that_dies_in_its_init_stops_the_pool_opening() -> None:
    with anyio.fail_after(LIMIT), pytest.raises(WorkerLostError, match="while starting"):
        async with ProcessPool(FUNCTIONS, 1, child_init=_failing_init):
            pass


# -- resizing ------------------------------------------------------------------------------


async def _spans(pool: ProcessPool, count: int, delay: float) -> list[tuple[int, float, float]]:
    spans: list[tuple[int, float, float]] = []

    async def call() -> None:
        spans.append(await pool.run("span", (delay,), {}))

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(call)
    return spans


async def test_growing_runs_more_at_once_with_new_children() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 1) as pool:
            first = await pool.run("pid", (), {})
            await pool.resize(3)
            assert pool.size == 3
            spans = await _spans(pool, 3, 1.0)  # new children fork first: slow when loaded
    assert most_at_once(spans) == 3
    assert first in {child for child, _, _ in spans}  # the old child stays
    assert len({child for child, _, _ in spans}) == 3


async def test_shrinking_stops_idle_children_at_once() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 3) as pool:
            pids = {child for child, _, _ in await _spans(pool, 3, 0.2)}
            await pool.resize(1)
            gone = [child for child in pids if collected(child)]
            assert len(gone) == 2  # stopped and collected before resize returned
            spans = await _spans(pool, 3, 0.1)
    assert most_at_once(spans) == 1
    assert {child for child, _, _ in spans} == pids - set(gone)


async def test_shrinking_while_busy_retires_seats_as_their_calls_end() -> None:
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 2) as pool, anyio.create_task_group() as tg:
            done: list[str] = []

            async def call() -> None:
                done.append(await pool.run("sleepy", (0.4,), {}))

            tg.start_soon(call)
            tg.start_soon(call)
            await anyio.sleep(0.1)
            await pool.resize(1)  # both busy: nothing to stop yet, no call is cut short
            assert pool.size == 1
        assert done == ["woke", "woke"]
        assert len([c for c in pool._children.values() if c is not None]) == 0  # left
    # a shrink still pending is undone by a grow: both seats stay
    with anyio.fail_after(LIMIT):
        async with ProcessPool(FUNCTIONS, 2) as pool:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pool.run, "sleepy", (0.3,), {})
                tg.start_soon(pool.run, "sleepy", (0.3,), {})
                await anyio.sleep(0.1)
                await pool.resize(1)
                await pool.resize(2)
            spans = await _spans(pool, 2, 0.2)
    assert most_at_once(spans) == 2


async def test_resizing_to_nothing_or_a_closed_pool_is_refused() -> None:
    pool = ProcessPool(FUNCTIONS, 1)
    with pytest.raises(RuntimeError, match="not open"):
        await pool.resize(2)
    with anyio.fail_after(LIMIT):
        async with pool:
            with pytest.raises(ConfigurationError, match="size must be at least 1"):
                await pool.resize(0)
            assert await pool.run("add", (1, 2), {}) == 3
