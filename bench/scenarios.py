"""The four scenarios, each run for each system on a fresh redis-server.

enqueue  the client sends N tasks from sync code (streaQ: async, it has no sync API);
         tasks/s from the client's own clock, warm-up calls excluded.
drain    N no-op tasks are enqueued first; then ONE worker process starts. t0 = the first
         moment the probe sees the queue shrink (so start-up time is not counted), t1 =
         the moment N results are stored; tasks/s = N / (t1 - t0). Probes every 5 ms;
         each instant is the midpoint between the two probes around the change.
latency  a warmed-up worker; M sequential round trips enqueue -> wait for result from
         the client; p50 and p99.
sleep    like drain, with tasks that each sleep 10 ms and workers with high concurrency.
commands Redis traffic per task while one worker drains N tasks (MONITOR): round trips
         (commands the worker's connections send) and commands Redis executes for it
         (those plus the ones inside Lua scripts). The probe's own commands are left out.
chord    a warmed-up worker; the client sends one chord of C no-op header tasks and a
         body that sums their results, and waits for it: tasks/s = (C + 1) / seconds,
         sending included. Celery's API only (Celery and celeriac after the swap).
chain    the same with one chain of S steps, each adding one: steps/s.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.common import CELERIAC_QUEUE, CELERY_QUEUE, SLEEP_SECONDS
from bench.monitor import Monitor
from bench.probes import PROBES, Probe
from bench.procs import BenchError, Procs
from tests.redis_server import RedisServer

POLL_INTERVAL = 0.005


@dataclass(frozen=True)
class Variant:
    key: str  # what --only matches
    label: str  # the table's "system" column
    system: str  # celeriac | compat (its Celery API) | celery | streaq
    pool: str = ""  # Celery's -P
    concurrency: int = 0  # worker concurrency (0: not applicable)
    action: str = "enqueue"  # client action for the enqueue scenario
    ref: str = "celeriac"  # the celeriac row this row is compared with
    note: str = ""
    vs: str = ""  # compat rows: the Celery row whose project they run after the swap


@dataclass
class Row:
    scenario: str
    variant: Variant
    rate: float | None = None  # tasks/s
    p50: float | None = None  # ms
    p99: float | None = None  # ms
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    round_trips: float | None = None  # per task (commands scenario)
    commands: float | None = None  # per task, scripts' inner commands included


@dataclass
class Settings:
    n: int
    sleep_n: int
    latency_n: int
    batch: int
    timeout: float
    commands_n: int = 2000
    chord_n: int = 2000
    chain_n: int = 200


def worker_argv(v: Variant) -> list[str]:
    if v.system == "celeriac":
        return ["-m", "bench.celeriac_worker", "--concurrency", str(v.concurrency)]
    if v.system == "streaq":
        return ["-m", "bench.streaq_worker", "--concurrency", str(v.concurrency)]
    # Celery's command line; the compat rows run it after the swap (celery -> celeriac)
    program, app, queue = (
        ("celeriac", "bench.compat_app", CELERIAC_QUEUE)
        if v.system == "compat"
        else ("celery", "bench.celery_app", CELERY_QUEUE)
    )
    return [
        "-m",
        program,
        "-A",
        app,
        "worker",
        "-P",
        v.pool,
        "-c",
        str(v.concurrency),
        "-Q",
        queue,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        "bench@%h",
    ]


class Runner:
    def __init__(self, procs: Procs, settings: Settings) -> None:
        self.procs = procs
        self.s = settings

    @contextmanager
    def redis(self) -> Iterator[RedisServer]:
        server = RedisServer.start()
        try:
            yield server
        finally:
            server.stop()

    def log_name(self, scenario: str, v: Variant, part: str) -> str:
        return f"{scenario}-{v.key}-{part}"

    # -- enqueue --------------------------------------------------------------------------

    def enqueue(self, v: Variant) -> Row:
        row = Row("enqueue", v)
        n, warmup = self.s.n, 100
        with self.redis() as server:
            argv = ["-m", "bench.client", v.system, v.action, "--n", str(n)]
            argv += ["--batch", str(self.s.batch), "--warmup", str(warmup)]
            out = self.procs.run_json(
                argv, server.port, self.log_name("enqueue", v, "client"), self.client_timeout(n)
            )
            row.rate = n / out["seconds"]
            probe = PROBES[v.system](server.port)
            try:
                ready, _ = probe.read()
            finally:
                probe.close()
            if ready != out["sent"]:
                row.notes.append(f"queue holds {ready}, expected {out['sent']}")
        return row

    # -- drain and sleep --------------------------------------------------------------------

    def drain(self, v: Variant) -> Row:
        return self._throughput("drain", v, self.s.n, "noop")

    def sleep(self, v: Variant) -> Row:
        row = self._throughput("sleep", v, self.s.sleep_n, "sleep")
        ideal = v.concurrency / SLEEP_SECONDS
        row.notes.append(f"ceiling {ideal:,.0f}/s at this concurrency")
        return row

    def _throughput(self, scenario: str, v: Variant, n: int, kind: str) -> Row:
        row = Row(scenario, v)
        with self.redis() as server:
            argv = ["-m", "bench.client", v.system, "fill", "--n", str(n), "--kind", kind]
            argv += ["--batch", str(self.s.batch)]
            self.procs.run_json(
                argv, server.port, self.log_name(scenario, v, "fill"), self.client_timeout(n)
            )
            probe = PROBES[v.system](server.port)
            try:
                self._check_filled(probe, n)
                worker = self.procs.start(
                    worker_argv(v), server.port, self.log_name(scenario, v, "worker")
                )
                try:
                    t0, t1 = self._watch(probe, n, worker, self.run_timeout(n, kind))
                finally:
                    self.procs.stop(worker)
                row.rate = n / (t1 - t0)
                self._check_results(probe, n, row)
            finally:
                probe.close()
        return row

    def _check_results(self, probe: Probe, n: int, row: Row) -> None:
        """One result key per task, and the probe counted exactly those."""
        _, done = probe.read()
        found = probe.result_keys()
        if found != n:
            row.notes.append(f"{found} result keys for {n} tasks")
        if done != found:
            row.notes.append(f"probe counted {done} results, but {found} result keys exist")

    def _check_filled(self, probe: Probe, n: int) -> None:
        ready, done = probe.read()
        if ready != n or done != 0:
            raise BenchError(f"setup: queue holds {ready} (want {n}), results {done} (want 0)")

    def _watch(self, probe: Probe, n: int, worker: Any, run_timeout: float) -> tuple[float, float]:
        """(t0, t1): when the queue first shrank, when the N-th result was stored."""
        start_timeout = 60.0 + self.s.timeout / 2
        deadline = time.perf_counter() + start_timeout
        t0: float | None = None
        previous = time.perf_counter()
        while True:
            before = time.perf_counter()
            ready, done = probe.read()
            now = (before + time.perf_counter()) / 2
            if t0 is None and (ready < n or done > 0):
                t0 = (previous + now) / 2
                deadline = now + run_timeout
            if t0 is not None and done >= n:
                return t0, (previous + now) / 2
            if worker.poll() is not None:
                raise BenchError(f"worker exited with {worker.returncode} ({done}/{n} done)")
            if now > deadline:
                phase = "worker start" if t0 is None else f"{done}/{n} done"
                raise BenchError(f"timeout ({phase})")
            previous = now
            time.sleep(POLL_INTERVAL)

    def commands(self, v: Variant) -> Row:
        row = Row("commands", v)
        n = self.s.commands_n
        with self.redis() as server:
            argv = ["-m", "bench.client", v.system, "fill", "--n", str(n), "--kind", "noop"]
            argv += ["--batch", str(self.s.batch)]
            self.procs.run_json(
                argv, server.port, self.log_name("commands", v, "fill"), self.client_timeout(n)
            )
            probe = PROBES[v.system](server.port)
            try:
                self._check_filled(probe, n)
                with Monitor(server.port, ignore=probe.addresses()) as monitor:
                    worker = self.procs.start(
                        worker_argv(v), server.port, self.log_name("commands", v, "worker")
                    )
                    try:
                        self._watch(probe, n, worker, self.run_timeout(n, "noop"))
                    finally:
                        self.procs.stop(worker)
                row.round_trips = monitor.sent / n
                row.commands = (monitor.sent + monitor.scripted) / n
                row.notes.append(monitor.top(n))
            finally:
                probe.close()
        return row

    # -- latency ----------------------------------------------------------------------------

    def latency(self, v: Variant) -> Row:
        row = Row("latency", v)
        m = self.s.latency_n
        with self.redis() as server:
            worker = self.procs.start(
                worker_argv(v), server.port, self.log_name("latency", v, "worker")
            )
            try:
                argv = ["-m", "bench.client", v.system, "latency", "--n", str(m)]
                argv += ["--warmup", str(min(50, m))]
                timeout = 120 + self.s.timeout + m * 0.2
                out = self.procs.run_json(
                    argv, server.port, self.log_name("latency", v, "client"), timeout
                )
                if worker.poll() is not None:
                    raise BenchError(f"worker exited with {worker.returncode}")
            finally:
                self.procs.stop(worker)
        samples = sorted(out["samples_ms"])
        row.p50, row.p99 = percentile(samples, 0.50), percentile(samples, 0.99)
        if "recorded_p50_ms" in out:
            row.notes.append(
                f"streaQ's own records put enqueue → finish at p50 {out['recorded_p50_ms']} ms: "
                "`result()` closes a coredis pub/sub that always waits its 0.1 s "
                "unsubscription_timeout"
            )
        return row

    # -- canvas -----------------------------------------------------------------------------

    def chord(self, v: Variant) -> Row:
        return self._workflow("chord", v, self.s.chord_n, extra=1)

    def chain(self, v: Variant) -> Row:
        return self._workflow("chain", v, self.s.chain_n, extra=0)

    def _workflow(self, scenario: str, v: Variant, n: int, extra: int) -> Row:
        row = Row(scenario, v)
        with self.redis() as server:
            worker = self.procs.start(
                worker_argv(v), server.port, self.log_name(scenario, v, "worker")
            )
            try:
                argv = ["-m", "bench.client", v.system, scenario, "--n", str(n)]
                timeout = 120 + self.s.timeout + n * 0.05
                out = self.procs.run_json(
                    argv, server.port, self.log_name(scenario, v, "client"), timeout
                )
                if worker.poll() is not None:
                    raise BenchError(f"worker exited with {worker.returncode}")
            finally:
                self.procs.stop(worker)
        row.rate = (n + extra) / out["seconds"]
        row.notes.append(f"{n:,} {'header tasks' if extra else 'steps'}")
        return row

    # -- timeouts ---------------------------------------------------------------------------

    def client_timeout(self, n: int) -> float:
        return self.s.timeout + n * 0.01  # 100 tasks/s would be very slow

    def run_timeout(self, n: int, kind: str) -> float:
        per_task = 0.01 if kind == "noop" else SLEEP_SECONDS
        return self.s.timeout + n * per_task


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


CELERIAC_NOTE = "one worker process, async def task, uvloop"
# the Celery rows' project and command after the import swap (Celery API, sync tasks)
SWAPPED = "Celery's project and command after the import swap"

ENQUEUE = [
    Variant("celeriac", "celeriac `task.enqueue_sync()`", "celeriac", action="enqueue"),
    Variant(
        "celeriac-many",
        "celeriac `app.enqueue_many_sync()`",
        "celeriac",
        action="enqueue-many",
        ref="celeriac-many",
        note="batches of {batch}",
    ),
    Variant("celery", "Celery `task.delay()`", "celery", action="enqueue"),
    Variant(
        "compat", "celeriac `task.delay()`", "compat", action="enqueue", note=SWAPPED, vs="celery"
    ),
    Variant(
        "streaq",
        "streaQ `await task.enqueue()`",
        "streaq",
        action="enqueue",
        note="async (streaQ has no sync enqueue), uvloop",
    ),
    Variant(
        "streaq-many",
        "streaQ `await worker.enqueue_many()`",
        "streaq",
        action="enqueue-many",
        ref="celeriac-many",
        note="async, batches of {batch}",
    ),
]

DRAIN = [
    Variant("celeriac", "celeriac -c 100", "celeriac", concurrency=100, note=CELERIAC_NOTE),
    Variant("celery-prefork", "Celery prefork -c 2", "celery", pool="prefork", concurrency=2),
    Variant("celery-threads", "Celery threads -c 8", "celery", pool="threads", concurrency=8),
    Variant(
        "compat-prefork",
        "celeriac prefork -c 2",
        "compat",
        pool="prefork",
        concurrency=2,
        note=SWAPPED,
        vs="celery-prefork",
    ),
    Variant(
        "compat-threads",
        "celeriac threads -c 8",
        "compat",
        pool="threads",
        concurrency=8,
        note=SWAPPED,
        vs="celery-threads",
    ),
    Variant("streaq", "streaQ -c 16", "streaq", concurrency=16, note="one process, uvloop"),
]

LATENCY = DRAIN

SLEEP = [
    Variant("celeriac", "celeriac -c 500", "celeriac", concurrency=500, note=CELERIAC_NOTE),
    Variant("celery-threads", "Celery threads -c 100", "celery", pool="threads", concurrency=100),
    Variant(
        "compat-threads",
        "celeriac threads -c 100",
        "compat",
        pool="threads",
        concurrency=100,
        note=SWAPPED,
        vs="celery-threads",
    ),
    Variant(
        "celery-gevent",
        "Celery gevent -c 500",
        "celery",
        pool="gevent",
        concurrency=500,
        note="green pools run Celery's synloop consumer, not its event loop",
    ),
    Variant("streaq", "streaQ -c 500", "streaq", concurrency=500, note="one process, uvloop"),
]

COMMANDS = DRAIN

CANVAS = [v for v in DRAIN if v.system in ("celery", "compat")]

SCENARIOS: dict[str, list[Variant]] = {
    "enqueue": ENQUEUE,
    "drain": DRAIN,
    "latency": LATENCY,
    "sleep": SLEEP,
    "commands": COMMANDS,
    "chord": CANVAS,
    "chain": CANVAS,
}


def selected(v: Variant, only: list[str] | None) -> bool:
    """``--only celery`` takes every Celery row, ``--only celery-threads`` that pool and
    the pool-less enqueue row."""
    if not only:
        return True
    return any(v.key == f or v.key.startswith(f + "-") or f.startswith(v.key + "-") for f in only)
