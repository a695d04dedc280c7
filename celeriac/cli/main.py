"""``celeriac``: the command line entry point (``python -m celeriac`` too), with
Celery's global options (``-A``, ``-b``, ``--result-backend``, ``--workdir``...)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import click

from .._version import __version__
from ..compat.app import Celery, set_command_line
from ._app import find_app
from .beat import beat
from .check import check
from .control import control, inspect, status
from .demo import demo
from .events import events
from .shell import shell
from .tools import call, purge, report, result
from .worker import worker

__all__ = ["cli", "main", "run_with_app"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="celeriac")
@click.option("-A", "--app", "app_name", help="The app: module, module.attr or module:attr.")
@click.option("-b", "--broker", help="Broker URL (overrides broker_url).")
@click.option("--result-backend", help="Result backend URL (overrides result_backend).")
@click.option("--workdir", type=click.Path(file_okay=False), help="Change to this directory.")
@click.option("--config", "config_module", help="Configuration module to read.")
@click.option("-C", "--no-color", is_flag=True, help="No colours in output.")
@click.option("-q", "--quiet", is_flag=True, help="Less output.")
@click.option("--loader", hidden=True)
@click.option("--skip-checks", is_flag=True, hidden=True)
@click.pass_context
def cli(
    ctx: click.Context,
    app_name: str | None,
    broker: str | None,
    result_backend: str | None,
    workdir: str | None,
    config_module: str | None,
    no_color: bool,
    quiet: bool,
    loader: str | None,
    skip_checks: bool,
) -> None:
    """celeriac: a drop-in replacement for Celery on an async Redis engine."""
    if workdir:
        os.chdir(workdir)
    obj: dict[str, Any] = ctx.ensure_object(dict)
    obj.setdefault("quiet", quiet)
    obj.setdefault("no_color", no_color)
    if obj.get("app") is None and app_name:
        obj["app"] = find_app(app_name)
    app: Celery | None = obj.get("app")
    if app is not None:
        if config_module:
            app.config_from_object(config_module)
        if broker:
            app.conf.broker_url = broker
        if result_backend:
            app.conf.result_backend = result_backend


def run_with_app(app: Celery, argv: Sequence[str]) -> None:
    """Run the command line with ``app`` already chosen (``app.start(argv)``)."""
    cli.main(args=list(argv), prog_name="celeriac", obj={"app": app})


def main() -> None:
    cli(prog_name="celeriac")


cli.add_command(worker)
cli.add_command(beat)
for command in (
    call, result, purge, report, demo, check, inspect, control, status, shell, events
):  # fmt: skip
    cli.add_command(command)
set_command_line(run_with_app)
