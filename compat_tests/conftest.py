"""Run each project twice on one private redis-server: as written, under
``celery -A proj worker -B``, and after the import swap, under ``celeriac -A proj worker
-B`` (each on Redis databases of its own), then drive both with the same scenarios.

The projects run one after the other (a module each, its fixtures scoped to it), so
that two workers at most share the machine. Every comparison is recorded for the
compatibility matrix, written at the end of the session (``--compat-matrix PATH``;
``scripts/compat`` writes ``docs/compat-matrix.md``).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compat_tests.matrix import Row, write_matrix
from compat_tests.swap import swap_command, swap_tree
from tests.redis_server import RedisServer

HERE = Path(__file__).parent
# the projects' own tests run in their copies, under each flavour
collect_ignore = ["project", "django_project"]
FLAVOURS = ("celery", "celeriac")
STARTUP_SECONDS = 60
DRIVE_SECONDS = 400
COMMON_ARGS = ["worker", "-B", "-l", "INFO", "-P", "prefork", "--without-gossip"]
COMMON_ARGS += ["--without-mingle"]


@dataclass(frozen=True)
class Project:
    """A Celery project of the suite: where it is, how its worker starts, and the first
    of the four Redis databases it uses (its worker and its own tests, per flavour)."""

    name: str
    title: str
    path: Path
    worker_args: tuple[str, ...]
    first_db: int
    env: dict[str, str] = field(default_factory=dict)


PROJECTS = {
    "plain": Project(
        "plain",
        "Plain package (proj/celery.py, a config module)",
        HERE / "project",
        ("-A", "proj", *COMMON_ARGS, "-c", "4", "-Q", "celery,other", "-n", "w1@%h"),
        1,
    ),
    "django": Project(
        "django",
        "Django layout (CELERY_ settings, two apps, beat)",
        HERE / "django_project",
        ("-A", "shop", *COMMON_ARGS, "-c", "2", "-Q", "celery,billing", "-n", "w2@%h"),
        5,
        {"DJANGO_SETTINGS_MODULE": "shop.settings"},
    ),
}


def scenarios(project: Project) -> list[tuple[str, str]]:
    """The driver's scenarios and what each checks (the first line of its docstring, or
    its name), read from its source: importing it needs a running project."""
    tree = ast.parse((project.path / "drive.py").read_text())
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "scenario" for d in node.decorator_list
        ):
            doc = (ast.get_docstring(node) or "").strip().split("\n\n")[0]
            found.append((node.name, " ".join(doc.split()) or node.name.replace("_", " ")))
    return found


def scenario_names(project: Project | None = None) -> list[str]:
    return [name for name, _ in scenarios(project or PROJECTS["plain"])]


@dataclass
class Flavour:
    name: str
    project: Path
    env: dict[str, str]
    log: Path
    worker_args: tuple[str, ...]
    worker: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        argv = [*_program(self.name), *self.worker_args, "--logfile", str(self.log)]
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


def _url(server: RedisServer, db: int) -> str:
    return server.url.rsplit("/", 1)[0] + f"/{db}"


def _prepare(project: Project, name: str, root: Path, server: RedisServer) -> Flavour:
    copy = root / name
    shutil.copytree(project.path, copy, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    if name == "celeriac":
        swap_tree(copy)
    db = project.first_db + FLAVOURS.index(name)
    log = root / f"{name}-worker.log"
    env = {
        **os.environ,
        **project.env,
        "COMPAT_PROGRAM": _program(name)[0],
        "PYTHONPATH": str(copy),
        "COMPAT_REDIS_URL": _url(server, db),
        "COMPAT_DB_PATH": str(root / f"{name}.sqlite3"),
        "COMPAT_WORKER_LOG": str(log),
    }
    return Flavour(name, copy, env, log, project.worker_args)


@pytest.fixture(scope="session")
def redis_for_projects() -> Iterator[RedisServer]:
    """One freshly started redis-server for every project and flavour."""
    server = RedisServer.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def running(project: Project, root: Path, server: RedisServer) -> Iterator[list[Flavour]]:
    """The project as written and swapped, with its worker (and beat) running."""
    prepared = [_prepare(project, name, root, server) for name in FLAVOURS]
    try:
        for flavour in prepared:
            flavour.start_worker()
        for flavour in prepared:
            flavour.wait_ready()
        yield prepared
    finally:
        for flavour in prepared:
            flavour.stop_worker()


def _run_all(commands: dict[str, tuple[list[str], Flavour, dict[str, str]]]) -> dict[str, Any]:
    """Run one command per flavour at the same time; each one's (exit code, stdout)."""
    started = {
        name: subprocess.Popen(
            argv, cwd=flavour.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name, (argv, flavour, env) in commands.items()
    }
    done = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=DRIVE_SECONDS)
        done[name] = (process.returncode, out.decode(), err.decode())
    return done


def observe(flavours: list[Flavour]) -> dict[str, dict[str, Any]]:
    """Each flavour's observations, scenario by scenario (both run at the same time)."""
    commands = {f.name: ([sys.executable, "drive.py"], f, f.env) for f in flavours}
    seen = {}
    root = flavours[0].project.parent
    for name, (code, out, err) in _run_all(commands).items():
        (root / f"{name}-drive.err").write_text(err)  # each scenario's time, for a look
        if code != 0:
            raise RuntimeError(f"{name} driver failed: {err[-4000:]}")
        seen[name] = json.loads(out)
    (root / "observed.json").write_text(json.dumps(seen, indent=1, sort_keys=True))
    return seen


def own_suites(project: Project, flavours: list[Flavour]) -> dict[str, Any]:
    """The project's own pytest suite under each flavour (on Redis databases and a
    database file of its own): exit code, each test's outcome, and the output's tail."""
    commands = {}
    for flavour in flavours:
        env = dict(flavour.env)
        db = project.first_db + 2 + FLAVOURS.index(flavour.name)
        env["COMPAT_REDIS_URL"] = env["COMPAT_REDIS_URL"].rsplit("/", 1)[0] + f"/{db}"
        env["COMPAT_DB_PATH"] = env["COMPAT_DB_PATH"].replace(".sqlite3", "-tests.sqlite3")
        argv = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests"]
        commands[flavour.name] = (argv, flavour, env)
    suites = {}
    for name, (code, out, err) in _run_all(commands).items():
        found = re.findall(r"^(PASSED|FAILED|ERROR|SKIPPED) (\S+)", out, re.MULTILINE)
        outcomes = {test: outcome for outcome, test in found}
        suites[name] = (code, outcomes, (out + err)[-4000:])
    return suites


# -- the matrix -----------------------------------------------------------------------------

ROWS: list[Row] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--compat-matrix",
        metavar="PATH",
        help="write the compatibility matrix (Markdown) there at the end of the run",
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = session.config.getoption("--compat-matrix", None)
    if target and ROWS:
        write_matrix(Path(target), ROWS, PROJECTS)
