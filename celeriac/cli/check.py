"""``celeriac check PATH``: what of a Celery project migrates as is, behaves differently
or is not supported (see ``compat/check.py``); the ``celery`` command lines in its
Procfiles, compose files, systemd units and scripts are checked here, against
celeriac's own commands."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..compat.check import MIGRATES, UNSUPPORTED, Finding, check_path, render

__all__ = ["check", "command_findings"]

NOT_BUILT = {
    "multi": "celeriac has no multi: run one worker per process manager entry",
    "flower": "Flower reads Celery's own events: not supported",
    "migrate": "not supported",
    "upgrade": "not supported",
    "amqp": "celeriac has no AMQP transport",
    "graph": "not supported",
    "logtool": "not supported",
}
VALUED = {"-A", "--app", "-b", "--broker", "--workdir", "--result-backend", "--config", "--loader"}
GREEN_POOLS = "gevent/eventlet pools are refused: write I/O-bound tasks as async def "


# -- command lines --------------------------------------------------------------------

_COMMAND = re.compile(r"(?:^|[\s\"'=:\[,/])(?:python3?\s+-m\s+)?celery(\s+\S.*)$")
# the exec form of compose files and Dockerfiles: ["celery", "-A", "proj", "worker"]
_EXEC_FORM = re.compile(r"\[\s*\"(?:[^\"]*/)?celery\"\s*,(.*)\]")


def command_findings(path: str, text: str, commands: Mapping[str, Any]) -> list[Finding]:
    """The ``celery`` command lines of a file, each checked against ``commands`` (the
    command line's, by name)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        words = _words(line)
        if words is not None:
            found.append(_command(path, number, words, commands))
    return found


def _words(line: str) -> list[str] | None:
    """The arguments of a ``celery`` command on this line, if there is one."""
    exec_form = _EXEC_FORM.search(line)
    if exec_form is not None:
        return re.findall(r'"([^"]*)"', exec_form.group(1))
    match = _COMMAND.search(line)
    if match is None:
        return None
    try:
        return shlex.split(match.group(1).strip().rstrip("\"',]"))
    except ValueError:
        return match.group(1).split()


def _command(path: str, line: int, words: list[str], commands: Mapping[str, Any]) -> Finding:
    shown = "celery " + " ".join(words)
    rest = list(words)
    while rest and rest[0].startswith("-"):  # global options, with their values
        option = rest.pop(0)
        if "=" not in option and option in VALUED and rest:
            rest.pop(0)
    if not rest:
        return Finding(path, line, "command", shown, MIGRATES, "as celeriac ...")
    sub, flags = rest[0], rest[1:]
    if sub in NOT_BUILT:
        return Finding(path, line, "command", shown, UNSUPPORTED, NOT_BUILT[sub])
    command: Any = commands.get(sub)
    if command is None:
        return Finding(path, line, "command", shown, UNSUPPORTED, f"no {sub!r} command")
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    unknown = [flag.split("=")[0] for flag in flags if flag.startswith("-")]
    unknown = [flag for flag in unknown if flag not in known and not _short_pair(flag, known)]
    pool = _pool_of(flags)
    if pool in ("gevent", "eventlet"):
        return Finding(path, line, "command", shown, UNSUPPORTED,
                       GREEN_POOLS + "(docs/differences.md#workers)")  # fmt: skip
    if unknown:
        note = f"{', '.join(unknown)} not known to celeriac {sub} (docs/celery.md#command-line)"
        return Finding(path, line, "command", shown, UNSUPPORTED, note)
    return Finding(path, line, "command", shown, MIGRATES, f"as celeriac {sub} ...")


def _short_pair(flag: str, known: set[str]) -> bool:
    """``-linfo`` or ``-c4``: a short option glued to its value."""
    return len(flag) > 2 and not flag.startswith("--") and flag[:2] in known


def _pool_of(flags: list[str]) -> str | None:
    for index, flag in enumerate(flags):
        if flag in ("-P", "--pool") and index + 1 < len(flags):
            return flags[index + 1]
        if flag.startswith("--pool="):
            return flag.split("=", 1)[1]
        if flag.startswith("-P") and len(flag) > 2:
            return flag[2:]
    return None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", type=click.Path(exists=True, path_type=Path), default=Path("."))
@click.option("--strict", is_flag=True, help="Exit 1 when something is not supported.")
def check(path: Path, strict: bool) -> None:
    """Read a Celery project (no code is run) and say what migrates as is, what behaves
    differently and what is not supported, with the docs page for each."""
    # the commands of the group this one runs under: the celeriac command line
    commands: Mapping[str, Any] = getattr(click.get_current_context().find_root().command,
                                          "commands", {})  # fmt: skip
    findings = check_path(path, lambda name, text: command_findings(name, text, commands))
    click.echo(render(findings, str(path)))
    if strict and any(f.verdict == UNSUPPORTED for f in findings):
        raise SystemExit(1)
