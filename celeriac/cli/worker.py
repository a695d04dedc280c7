"""``celeriac -A proj worker``: Celery's worker options, mapped onto the core worker."""

from __future__ import annotations

from typing import Any

import click

from ..compat.worker import WorkerOptions, parse_autoscale, run_worker
from ..core.errors import ConfigurationError
from ._app import command_app, log_level, write_pidfile

__all__ = ["worker"]


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-l", "--loglevel", default="WARNING", help="DEBUG, INFO, WARNING, ERROR...")
@click.option("-Q", "--queues", help="Queues to consume, comma-separated.")
@click.option("-X", "--exclude-queues", help="Queues not to consume, comma-separated.")
@click.option(
    "--strict-order",
    is_flag=True,
    help="Serve -Q's queues in strict order (the first while it has tasks), not in turn.",
)
@click.option("-c", "--concurrency", type=int, help="Size of the pool for plain functions.")
@click.option(
    "-P", "--pool", help="prefork (default), threads, solo, or async (-c: async def tasks)."
)
@click.option("-n", "--hostname", help="Node name (%h host, %n name, %d domain).")
@click.option("-B", "--beat", is_flag=True, help="Also run the periodic task scheduler.")
@click.option("-E", "--task-events", "--events", "events", is_flag=True, default=None)
@click.option("-O", "optimization", help="default or fair (celeriac is always fair).")
@click.option("--prefetch-multiplier", type=int)
@click.option("--max-tasks-per-child", type=int)
@click.option("--max-memory-per-child", type=int, help="KiB.")
@click.option("--time-limit", type=float)
@click.option("--soft-time-limit", type=float)
@click.option("--autoscale", help="MAX[,MIN]: grow and shrink the pool with demand.")
@click.option("--celery-queues", help="Also run the tasks Celery producers send to these queues.")
@click.option("-f", "--logfile")
@click.option("--pidfile")
@click.option("-s", "--schedule-filename", "--schedule", "schedule", hidden=True)
@click.option("--without-gossip", is_flag=True, help="Accepted (celeriac has no gossip).")
@click.option("--without-mingle", is_flag=True, help="Accepted (celeriac has no mingle).")
@click.option("--without-heartbeat", is_flag=True, help="Accepted (heartbeats are in Redis).")
@click.pass_context
def worker(ctx: click.Context, /, **kw: Any) -> None:
    """Start a worker."""
    app = command_app(ctx, "worker")
    level = log_level(kw["loglevel"])
    if kw["pidfile"]:
        write_pidfile(kw["pidfile"])
    try:
        autoscale = parse_autoscale(kw["autoscale"])
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--autoscale") from exc
    options = WorkerOptions(
        queues=_csv(kw["queues"]) or None,
        exclude_queues=_csv(kw["exclude_queues"]),
        concurrency=kw["concurrency"],
        pool=kw["pool"],
        hostname=kw["hostname"],
        loglevel=level,
        logfile=kw["logfile"],
        events=kw["events"],
        beat=kw["beat"],
        strict_order=kw["strict_order"],
        prefetch_multiplier=kw["prefetch_multiplier"],
        max_tasks_per_child=kw["max_tasks_per_child"],
        max_memory_per_child=kw["max_memory_per_child"],
        time_limit=kw["time_limit"],
        soft_time_limit=kw["soft_time_limit"],
        autoscale=autoscale,
        celery_queues=_csv(kw["celery_queues"]) or None,
    )
    try:
        run_worker(app, options)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from exc
