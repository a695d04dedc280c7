"""``celeriac demo``: the sample project (``celeriac/demo``) with a worker and beat in
this process, on ``memory://`` (or on Redis with ``CELERIAC_BROKER_URL``)."""

from __future__ import annotations

import click

__all__ = ["demo"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--ticks", type=int, default=2, show_default=True, help="Beat ticks to wait for.")
def demo(ticks: int) -> None:
    """Run the sample project: calls, a chain, a group, a chord and beat."""
    from ..demo.run import main

    main(ticks)
