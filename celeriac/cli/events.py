"""``celeriac events``: the task events of workers run with ``-E``, live. On a terminal
a view of the latest tasks and their states, redrawn every ``--freq`` seconds;
otherwise (or with ``--dump``) one line per event, as ``celery events --dump``."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from collections import OrderedDict
from typing import Any

import anyio
import click

from ..core.runtime import run
from ._app import command_app

__all__ = ["events"]

SHOWN = 20  # tasks in the live view
STATES = {
    "task-received": "RECEIVED",
    "task-started": "STARTED",
    "task-succeeded": "SUCCESS",
    "task-failed": "FAILURE",
    "task-retried": "RETRY",
    "task-revoked": "REVOKED",
}


def dump_line(event: Any) -> str:
    """One event as ``celery events --dump`` shows it."""
    when = dt.datetime.fromtimestamp(event.timestamp).isoformat(sep=" ", timespec="seconds")
    fields = ", ".join(f"{key}={value}" for key, value in sorted(event.fields.items()))
    return f"{event.worker} [{when}] {event.type}: {event.name}[{event.task_id}] {fields}".rstrip()


class View:
    """The latest tasks seen, their state and where they ran."""

    def __init__(self) -> None:
        self.tasks: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.workers: set[str] = set()
        self.seen = 0

    def add(self, event: Any) -> None:
        self.seen += 1
        self.workers.add(event.worker)
        task = self.tasks.pop(event.task_id, None) or {"name": event.name, "received": None}
        task.update(state=STATES.get(event.type, event.type), worker=event.worker)
        if event.type == "task-received":
            task["received"] = event.timestamp
        if "runtime" in event.fields:
            task["runtime"] = event.fields["runtime"]
        self.tasks[event.task_id] = task
        while len(self.tasks) > SHOWN:
            self.tasks.popitem(last=False)

    def render(self) -> str:
        lines = [
            f"celeriac events: {self.seen} events from {len(self.workers)} worker(s); "
            "Ctrl-C to quit",
            "",
            f"{'UUID':<36}  {'TASK':<32}  {'STATE':<9}  {'WORKER':<24}  RUNTIME",
        ]
        for task_id, task in reversed(self.tasks.items()):
            runtime = f"{task['runtime']:.4f}s" if "runtime" in task else ""
            lines.append(
                f"{task_id:<36}  {task['name'][:32]:<32}  {task['state']:<9}  "
                f"{str(task['worker'])[:24]:<24}  {runtime}"
            )
        return "\n".join(lines)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-d", "--dump", is_flag=True, help="One line per event instead of the view.")
@click.option("-F", "--freq", "--frequency", "freq", type=float, default=1.0,
              help="Seconds between redraws of the view.")  # fmt: skip
@click.option("-r", "--maxrate", help="Accepted (events are read as they come).")
@click.option("-c", "--camera", help="Not supported: snapshots need Celery's event state.")
@click.option("-l", "--loglevel", help="Accepted.")
@click.option("--from-start", is_flag=True, help="Begin with the oldest events kept.")
@click.option("--timeout", type=float, help="Stop after this many seconds without an event.")
@click.pass_context
def events(ctx: click.Context, /, **kw: Any) -> None:
    """Watch task events (workers started with -E send them)."""
    app = command_app(ctx, "events")
    if kw["camera"]:
        raise click.UsageError("--camera is not supported: use --dump, or app.core.events()")
    live = not kw["dump"] and sys.stdout.isatty()
    after = "0" if kw["from_start"] else "$"
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the way to quit
        run(_watch, app, after, kw["timeout"], live, float(kw["freq"]))


async def _watch(app: Any, after: str, timeout: float | None, live: bool, freq: float) -> None:
    core = app.core
    view = View()
    drawn = 0.0
    try:
        async for event in core.events(after, timeout=timeout):
            if not live:
                click.echo(dump_line(event))
                continue
            view.add(event)
            if time.monotonic() - drawn >= freq:
                click.echo("\x1b[2J\x1b[H" + view.render())
                drawn = time.monotonic()
        if live:
            click.echo("\x1b[2J\x1b[H" + view.render())
    finally:
        with anyio.CancelScope(shield=True):
            await core.aclose()
