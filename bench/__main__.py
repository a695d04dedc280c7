"""``python -m bench``: celeriac against Celery 5.x and streaQ on this machine.

Prints a Markdown table and writes it to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT
from bench.procs import BenchError, Procs
from bench.report import machine_info, render
from bench.scenarios import SCENARIOS, Row, Runner, Settings, progress, selected


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run", description="Benchmark celeriac against Celery and streaQ."
    )
    parser.add_argument(
        "--n", type=int, default=20_000, help="tasks for enqueue and drain (default 20000)"
    )
    parser.add_argument("--sleep-n", type=int, help="10 ms tasks (default: min(2000, n))")
    parser.add_argument("--latency-n", type=int, help="round trips (default: min(500, n))")
    parser.add_argument(
        "--commands-n", type=int, help="tasks drained under MONITOR (default: min(2000, n))"
    )
    parser.add_argument("--chord-n", type=int, help="chord header tasks (default: min(2000, n))")
    parser.add_argument("--chain-n", type=int, help="chain steps (default: min(200, n))")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, from {','.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--only",
        help="comma-separated systems: celeriac, celery (or celery-prefork, "
        "celery-threads, celery-gevent), streaq",
    )
    parser.add_argument("--batch", type=int, default=1000, help="enqueue_many batch size")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="base timeout of each wait, seconds"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="plain asyncio everywhere")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    systems = {v.key for variants in SCENARIOS.values() for v in variants} | {"celery"}
    unknown = set(args.only.split(",") if args.only else ()) - systems
    if unknown:
        parser.error(f"unknown system(s): {', '.join(sorted(unknown))}; from {sorted(systems)}")
    return args


def _terminate(signum: int, frame: Any) -> None:
    """First Ctrl-C or SIGTERM: unwind through every ``finally`` (workers and servers
    stop); further ones are ignored so that the clean-up itself is not cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def run_all(runner: Runner, scenarios: list[str], only: list[str] | None, rows: list[Row]) -> None:
    """Run the selected rows, appending each to ``rows`` as it finishes."""
    for scenario in scenarios:
        for variant in SCENARIOS[scenario]:
            if not selected(variant, only):
                continue
            progress(f"==> {scenario}: {variant.label}")
            started = time.perf_counter()
            try:
                row = getattr(runner, scenario)(variant)
            except BenchError as exc:
                row = Row(scenario, variant, error=str(exc))
            rows.append(row)
            took = time.perf_counter() - started
            progress(f"    {_summary(row)}  ({took:.1f}s)")


def _summary(row: Row) -> str:
    if row.error:
        return f"FAILED: {row.error}"
    if row.p50 is not None:
        return f"p50 {row.p50:.2f} ms, p99 {row.p99:.2f} ms"
    if row.round_trips is not None:
        return f"{row.round_trips:.3g} commands sent, {row.commands:.3g} run per task"
    return f"{row.rate:,.0f} tasks/s" + (f" [{'; '.join(row.notes)}]" if row.notes else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        n=args.n,
        sleep_n=args.sleep_n or min(2000, args.n),
        latency_n=args.latency_n or min(500, args.n),
        commands_n=args.commands_n or min(2000, args.n),
        chord_n=args.chord_n or min(2000, args.n),
        chain_n=args.chain_n or min(200, args.n),
        batch=args.batch,
        timeout=args.timeout,
    )
    logs = args.output.parent / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, _terminate)
    info = machine_info()
    procs = Procs(logs, uvloop=not args.no_uvloop)
    only = args.only.split(",") if args.only else None
    rows: list[Row] = []
    try:
        run_all(Runner(procs, settings), args.scenarios.split(","), only, rows)
    except KeyboardInterrupt:
        progress("interrupted: workers stopped; the rows finished so far:")
        print(render(rows, settings, info))
        return 130
    finally:
        procs.stop_all()
    text = render(rows, settings, info)
    print(text)
    args.output.write_text(text)
    progress(f"written to {args.output} (worker and client logs in {logs})")
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
