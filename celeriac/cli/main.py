"""``celeriac``: the command line entry point (``python -m celeriac`` too)."""

from __future__ import annotations

import click

from .. import __version__

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="celeriac")
def cli() -> None:
    """celeriac: a drop-in replacement for Celery on an async Redis engine."""


def main() -> None:
    cli(prog_name="celeriac")
