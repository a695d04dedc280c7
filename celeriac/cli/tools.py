"""``celeriac call``, ``celeriac result`` and ``celeriac report``, as Celery's: send a
task by name, wait for and print a result, print what a bug report needs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from ..core.errors import CeleriacError
from ._app import command_app

__all__ = ["call", "report", "result"]


def _json(value: str | None, what: str, kind: type) -> Any:
    if not value:
        return kind()
    try:
        loaded = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be JSON: {exc}") from None
    if not isinstance(loaded, kind):
        raise click.BadParameter(f"{what} must be a JSON {kind.__name__}, got {value!r}")
    return loaded


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option("-a", "--args", help="Positional arguments, as JSON: '[2, 2]'.")
@click.option("-k", "--kwargs", help="Keyword arguments, as JSON: '{\"x\": 1}'.")
@click.option("--eta", help="ISO 8601 date and time to run at.")
@click.option("--countdown", type=float, help="Seconds from now to run at.")
@click.option("--expires", help="Seconds from now, or an ISO 8601 date and time.")
@click.option("--serializer", help="Accepted: the app's task_serializer is used.")
@click.option("--queue", help="The queue to send it to.")
@click.option("--exchange", help="Accepted (no exchanges on celeriac's Redis).")
@click.option("--routing-key", help="Accepted (routing is by queue).")
@click.pass_context
def call(ctx: click.Context, /, name: str, **kw: Any) -> None:
    """Send a task by name; prints its id."""
    app = command_app(ctx, "call")
    options: dict[str, Any] = {}
    if kw["eta"]:
        try:
            options["eta"] = dt.datetime.fromisoformat(kw["eta"])
        except ValueError as exc:
            raise click.BadParameter(f"--eta: {exc}") from None
    if kw["countdown"] is not None:
        options["countdown"] = kw["countdown"]
    if kw["expires"]:
        expires = kw["expires"]
        try:
            options["expires"] = float(expires)
        except ValueError:
            options["expires"] = expires  # an ISO date and time, read by apply_async
    if kw["queue"]:
        options["queue"] = kw["queue"]
    args = _json(kw["args"], "--args", list)
    kwargs = _json(kw["kwargs"], "--kwargs", dict)
    try:
        sent = app.send_task(name, args, kwargs, **options)
    except CeleriacError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(sent.id)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("task_id")
@click.option("-t", "--task", help="The task's name (accepted; results are by id).")
@click.option("--traceback", is_flag=True, help="Print the traceback instead of the value.")
@click.option("--timeout", type=float, help="Seconds to wait at most.")
@click.pass_context
def result(ctx: click.Context, /, task_id: str, **kw: Any) -> None:
    """Wait for a task's result and print it; a failed task's error is the command's."""
    app = command_app(ctx, "result")
    found = app.AsyncResult(task_id)
    if kw["traceback"]:
        click.echo(found.traceback)
        return
    try:
        value = found.get(timeout=kw["timeout"])
    except Exception as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    click.echo(value)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def report(ctx: click.Context, /) -> None:
    """Print what a bug report needs: versions, platform, settings (secrets hidden)."""
    app = command_app(ctx, "report")
    click.echo(app.bugreport())
