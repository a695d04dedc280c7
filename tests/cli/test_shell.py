"""``celeriac shell``: the app, the canvas names and the tasks at hand."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from celeriac.cli.main import cli
from celeriac.cli.shell import shell_namespace
from celeriac.compat.app import Celery


def test_the_namespace_holds_the_app_the_canvas_and_the_tasks() -> None:
    app = Celery("shelled", broker="memory://")

    @app.task(name="shelled.tasks.add")
    def add(x: int, y: int) -> int:
        return x + y

    names = shell_namespace(app)
    assert names["app"] is app and names["celery"] is app and names["add"] is add
    assert {"chain", "chord", "group", "chunks", "signature", "Task"} <= set(names)
    assert "map_task" not in names  # celery.* builtins stay out
    assert "add" not in shell_namespace(app, with_tasks=False)


def test_the_python_shell_runs_with_them() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "celeriac", "-A", "celeriac.demo.celery", "shell", "--python"],
        input="print('ready', add.name, type(celery).__name__)\n",
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ready celeriac.demo.tasks.add Celery" in done.stdout


def test_green_threads_are_refused() -> None:
    refused = CliRunner().invoke(cli, ["shell", "--gevent"], obj={"app": Celery("x")})
    assert refused.exit_code == 2 and "not supported" in refused.output
