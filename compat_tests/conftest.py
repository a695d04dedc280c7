"""Run the project twice on one private redis-server: as written, under
``celery -A proj worker``, and after the import swap, under ``celeriac -A proj worker``
(each on its own Redis database), then drive both with the same scenarios."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compat_tests.swap import swap_command, swap_tree
from tests.redis_server import RedisServer

PROJECT = Path(__file__).parent / "project"
collect_ignore = ["project"]  # the project's own tests run in its copies, under each flavour
FLAVOURS = {"celery": 1, "celeriac": 2}  # flavour → its Redis database
WORKER_ARGS = ["-A", "proj", "worker", "-l", "INFO", "-P", "prefork", "-c", "4"]
WORKER_ARGS += ["-Q", "celery,other", "-n", "w1@%h", "--without-gossip", "--without-mingle"]
STARTUP_SECONDS = 60
DRIVE_SECONDS = 400


def scenario_names() -> list[str]:
    """The driver's scenarios, read from its source (importing it needs a running project)."""
    source = (PROJECT / "drive.py").read_text()
    return re.findall(r"^@scenario\ndef (\w+)\(", source, re.MULTILINE)


@dataclass
class Flavour:
    name: str
    project: Path
    env: dict[str, str]
    log: Path
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        argv = [*_program(self.name), *WORKER_ARGS, "--logfile", str(self.log)]
        with (self.log.parent / f"{self.name}-worker.out").open("wb") as output:
            self.worker = subprocess.Popen(
                argv, cwd=self.project, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        assert self.worker is not None
        while time.monotonic() < deadline:
            if self.worker.poll() is not None:
                raise RuntimeError(f"{self.name} worker exited: {self.output()}")
            if self.log.exists() and "ready." in self.log.read_text():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} worker not ready in {STARTUP_SECONDS}s: {self.output()}")

    def output(self) -> str:
        out = self.log.parent / f"{self.name}-worker.out"
        text = out.read_text() if out.exists() else ""
        text += self.log.read_text() if self.log.exists() else ""
        return text[-4000:]

    def stop_worker(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            return
        self.worker.send_signal(signal.SIGTERM)
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait()


def _program(flavour: str) -> list[str]:
    """The command as a Celery user runs it, swapped as they would for celeriac."""
    celery = [str(Path(sys.executable).with_name("celery"))]
    return swap_command(celery) if flavour == "celeriac" else celery


def _prepare(name: str, root: Path, server: RedisServer) -> Flavour:
    project = root / name
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    if name == "celeriac":
        swap_tree(project)
    url = server.url.rsplit("/", 1)[0] + f"/{FLAVOURS[name]}"
    log = root / f"{name}-worker.log"
    env = {
        **os.environ,
        "COMPAT_PROGRAM": _program(name)[0],
        "PYTHONPATH": str(project),
        "COMPAT_REDIS_URL": url,
        "COMPAT_WORKER_LOG": str(log),
    }
    return Flavour(name, project, env, log)


@pytest.fixture(scope="session")
def flavours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Flavour]]:
    """The project as written and swapped, with its worker running on the private Redis."""
    root = tmp_path_factory.mktemp("compat")
    server = RedisServer.start()
    prepared = [_prepare(name, root, server) for name in FLAVOURS]
    try:
        for flavour in prepared:
            flavour.start_worker()
        for flavour in prepared:
            flavour.wait_ready()
        yield prepared
    finally:
        for flavour in prepared:
            flavour.stop_worker()
        server.stop()


def _run_all(commands: dict[str, tuple[list[str], Flavour, dict[str, str]]]) -> dict[str, Any]:
    """Run one command per flavour at the same time; each one's (exit code, stdout)."""
    running = {
        name: subprocess.Popen(
            argv, cwd=flavour.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name, (argv, flavour, env) in commands.items()
    }
    done = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=DRIVE_SECONDS)
        done[name] = (process.returncode, out.decode(), err.decode())
    return done


@pytest.fixture(scope="session")
def observed(flavours: list[Flavour]) -> dict[str, dict[str, Any]]:
    """Each flavour's observations, scenario by scenario (both run at the same time)."""
    commands = {f.name: ([sys.executable, "drive.py"], f, f.env) for f in flavours}
    seen = {}
    for name, (code, out, err) in _run_all(commands).items():
        if code != 0:
            raise RuntimeError(f"{name} driver failed: {err[-4000:]}")
        seen[name] = json.loads(out)
    root = flavours[0].project.parent
    (root / "observed.json").write_text(json.dumps(seen, indent=1, sort_keys=True))
    return seen


@pytest.fixture(scope="session")
def project_suites(flavours: list[Flavour]) -> dict[str, tuple[int, dict[str, str], str]]:
    """The project's own pytest suite under each flavour (on Redis databases of its
    own): exit code, each test's outcome, and the output's tail."""
    commands = {}
    for flavour in flavours:
        env = dict(flavour.env)
        env["COMPAT_REDIS_URL"] = flavour.env["COMPAT_REDIS_URL"][:-1] + str(
            FLAVOURS[flavour.name] + 2
        )
        argv = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests"]
        commands[flavour.name] = (argv, flavour, env)
    suites = {}
    for name, (code, out, err) in _run_all(commands).items():
        found = re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", out, re.MULTILINE)
        outcomes = {test: outcome for outcome, test in found}
        suites[name] = (code, outcomes, (out + err)[-4000:])
    return suites
