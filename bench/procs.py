"""Subprocesses the benchmark starts, and only those: each in a session of its own, so
that killing it by its process-group id also ends its children (Celery's pool)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT


class BenchError(Exception):
    """A row failed; the message goes in the table ("timeout", "worker exited"...)."""


class Procs:
    def __init__(self, logs: Path, uvloop: bool) -> None:
        self.logs = logs
        self.uvloop = uvloop
        self.running: list[subprocess.Popen[bytes]] = []

    def env(self, port: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            BENCH_REDIS_PORT=str(port),
            BENCH_UVLOOP="1" if self.uvloop else "0",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self, argv: list[str], port: int, log_name: str) -> subprocess.Popen[bytes]:
        """Start ``python argv...`` with its output in ``logs/<log_name>.log``."""
        with open(self.logs / f"{log_name}.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=self.env(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc

    def run_json(self, argv: list[str], port: int, log_name: str, timeout: float) -> Any:
        """Run ``python argv...`` to its end; its last stdout line, parsed as JSON."""
        log_path = self.logs / f"{log_name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                cwd=ROOT,
                env=self.env(port),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        self.running.append(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"timeout: {argv[1]} {' '.join(argv[2:4])} ({timeout:.0f}s)") from None
        finally:
            self.stop(proc)
        if proc.returncode != 0:
            raise BenchError(f"{argv[1]} exited with {proc.returncode}: {tail(log_path)}")
        return json.loads(out.decode().strip().splitlines()[-1])

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)  # the group we made: our child and its children
            except (ProcessLookupError, PermissionError):
                break
            try:
                proc.wait(timeout=wait)
                _reap_group(proc.pid)
                break
            except subprocess.TimeoutExpired:
                continue
        if proc in self.running:
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc, grace=2.0)


def _reap_group(pgid: int) -> None:
    """Children of a group leader that exited on SIGTERM (prefork children) get SIGKILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])[-300:]
