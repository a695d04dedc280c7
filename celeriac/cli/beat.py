"""``celeriac -A proj beat``: the periodic task scheduler on its own, with Celery's
options. Its state is kept in Redis (``-s`` is accepted and has no effect), and any
number of schedulers may run: each tick is sent once."""

from __future__ import annotations

from typing import Any

import click

from ..compat.beat import run_beat
from ..core.errors import ConfigurationError
from ._app import command_app, log_level, write_pidfile

__all__ = ["beat"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-l", "--loglevel", default="WARNING", help="DEBUG, INFO, WARNING, ERROR...")
@click.option("-s", "--schedule", help="Accepted: the schedule's state is kept in Redis.")
@click.option("-S", "--scheduler", help="Only celeriac's own scheduler is available.")
@click.option("--max-interval", type=float, help="Longest sleep between passes (seconds).")
@click.option("-f", "--logfile")
@click.option("--pidfile")
@click.option("--detach", is_flag=True, help="Not supported: run it under a supervisor.")
@click.pass_context
def beat(ctx: click.Context, /, **kw: Any) -> None:
    """Start the periodic task scheduler (beat)."""
    app = command_app(ctx, "beat")
    level = log_level(kw["loglevel"])
    if kw["detach"]:
        raise click.UsageError(
            "--detach is not supported: run celeriac beat under systemd, supervisord or "
            "a container, which restart it (docs/periodic.md)"
        )
    scheduler = kw["scheduler"]
    if scheduler and not scheduler.endswith(("PersistentScheduler", "celeriac")):
        raise click.UsageError(
            f"scheduler {scheduler!r} is not available: celeriac's scheduler keeps the "
            "schedule's state in Redis (docs/periodic.md)"
        )
    if kw["pidfile"]:
        write_pidfile(kw["pidfile"])
    try:
        run_beat(app, level, kw["logfile"], kw["max_interval"])
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from exc
