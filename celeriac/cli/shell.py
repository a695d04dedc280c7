"""``celeriac shell``: a Python shell with the app, the canvas names and every task at
hand, as Celery's: IPython or bpython when installed, else Python's own."""

from __future__ import annotations

import code
import importlib
import os
import sys
from typing import Any

import click

from ..compat import canvas
from ..compat.task import Task
from ._app import command_app

__all__ = ["shell", "shell_namespace"]


def shell_namespace(app: Any, with_tasks: bool = True) -> dict[str, Any]:
    """What the shell starts with: ``app`` (``celery`` too), Celery's canvas names and
    ``Task``, and the app's tasks by their function's name."""
    names: dict[str, Any] = {"app": app, "celery": app, "Task": Task}
    for name in ("chord", "group", "chain", "chunks", "xmap", "xstarmap", "subtask", "signature"):
        names[name] = getattr(canvas, name)
    if with_tasks:
        for task in app.tasks.values():
            if not str(task.name).startswith("celery."):
                wrapped = getattr(task, "__wrapped__", None)
                names[getattr(wrapped, "__name__", str(task.name).rpartition(".")[2])] = task
    return names


def _ipython(names: dict[str, Any]) -> None:
    from IPython import start_ipython  # type: ignore[import-not-found]

    start_ipython(argv=[], user_ns=names)


def _bpython(names: dict[str, Any]) -> None:
    bpython: Any = importlib.import_module("bpython")
    bpython.embed(names)


def _python(names: dict[str, Any]) -> None:
    banner = f"Python {sys.version.split()[0]} — celeriac shell: {', '.join(sorted(names))}"
    code.interact(banner=banner, local=names, exitmsg="")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-I", "--ipython", is_flag=True, help="Use IPython.")
@click.option("-B", "--bpython", is_flag=True, help="Use bpython.")
@click.option("--python", is_flag=True, help="Use Python's own shell.")
@click.option("-T", "--without-tasks", is_flag=True, help="Don't add the tasks.")
@click.option("--eventlet", is_flag=True, help="Not supported.")
@click.option("--gevent", is_flag=True, help="Not supported.")
@click.pass_context
def shell(ctx: click.Context, /, **kw: Any) -> None:
    """A Python shell with the app, the canvas and the tasks at hand."""
    app = command_app(ctx, "shell")
    if kw["eventlet"] or kw["gevent"]:
        raise click.UsageError("eventlet and gevent are not supported: celeriac is async")
    sys.path.insert(0, os.getcwd())
    app.import_default_modules()
    names = shell_namespace(app, with_tasks=not kw["without_tasks"])
    wanted = [("ipython", _ipython), ("bpython", _bpython)]
    chosen = [run for flag, run in wanted if kw[flag]]
    if kw["python"]:
        _python(names)
        return
    for run in chosen or [run for _, run in wanted]:
        try:
            run(names)
            return
        except ImportError:
            if chosen:
                raise click.ClickException(f"{run.__name__[1:]} is not installed") from None
    _python(names)
