"""docs/cli.md lists every option of every command, and every command."""

from __future__ import annotations

from pathlib import Path

import click

from celeriac.cli.main import cli

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()


def test_every_command_and_option_is_in_the_cli_reference() -> None:
    missing = []
    for param in cli.params:
        missing += [o for o in param.opts if f"`{o}`" not in DOCS]
    for name, command in cli.commands.items():
        if f"`{name}" not in DOCS:
            missing.append(name)
        for param in command.params:
            if isinstance(param, click.Option):
                missing += [f"{name} {o}" for o in param.opts if f"`{o}`" not in DOCS]
    assert not missing
