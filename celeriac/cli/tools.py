"""``celeriac call``, ``result``, ``purge`` and ``report``, as Celery's: send a task by
name, wait for and print a result, empty queues, print what a bug report needs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from ..core.errors import CeleriacError
from ._app import command_app

__all__ = ["call", "purge", "report", "result"]


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


def _plural(count: int, word: str) -> str:
    return f"{word}{'' if count == 1 else 's'}"


def _csv(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-f", "--force", is_flag=True, help="Don't prompt for verification.")
@click.option("-Q", "--queues", help="Comma-separated queues to purge (default: all known).")
@click.option("-X", "--exclude-queues", help="Comma-separated queues not to purge.")
@click.pass_context
def purge(
    ctx: click.Context, /, force: bool, queues: str | None, exclude_queues: str | None
) -> None:
    """Erase the tasks waiting in the known task queues (those not yet taken by a
    worker, and delayed ones). There is no undo."""
    app = command_app(ctx, "purge")
    names = sorted((_csv(queues) or set(app.known_queues())) - _csv(exclude_queues))
    if not names:
        return
    headline = _plural(len(names), "queue")
    if not force:
        click.confirm(
            f"{click.style('WARNING', fg='red')}: This will remove all tasks from "
            f"{len(names)} {headline}: {', '.join(names)}.\n"
            "         There is no undo for this operation!\n\n"
            "(to skip this prompt use the -f option)\n"
            "Are you sure you want to delete all tasks?",
            abort=True,
        )
    try:
        removed = app.control.purge(queues=names)
    except CeleriacError as exc:
        raise click.ClickException(str(exc)) from exc
    if removed:
        click.echo(
            f"Purged {removed} {_plural(removed, 'message')} from {len(names)} known task "
            f"{headline}."
        )
    else:
        click.echo(f"No messages purged from {len(names)} {headline}.")
