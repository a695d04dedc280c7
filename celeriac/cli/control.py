"""``celeriac inspect``, ``control`` and ``status``: Celery's remote control commands,
over the workers' control channel in Redis, printed as Celery prints them."""

from __future__ import annotations

import json
from typing import Any, NoReturn

import click

from ._app import command_app

__all__ = ["control", "inspect", "status"]

INSPECT = ("active", "active_queues", "ping", "query_task", "registered", "reserved",
           "revoked", "scheduled", "stats")  # fmt: skip
CONTROL = ("shutdown", "ping", "rate_limit", "time_limit", "add_consumer", "cancel_consumer",
           "revoke", "pool_grow", "pool_shrink", "autoscale")  # fmt: skip
# each control command's arguments, as ``celery control`` takes them
CONTROL_ARGUMENTS = {
    "rate_limit": ("task_name", "rate_limit"),
    "time_limit": ("task_name", "soft", "hard"),
    "add_consumer": ("queue",),
    "cancel_consumer": ("queue",),
    "pool_grow": ("n",),
    "pool_shrink": ("n",),
    "autoscale": ("max", "min"),
}
# how many of them may be left out (the rest have defaults)
OPTIONAL = {"time_limit": 1, "pool_grow": 1, "pool_shrink": 1, "autoscale": 1}
EX_UNAVAILABLE = 69  # as Celery, when no worker answered


def _nodes(count: int) -> str:
    return f"{count} {'node' if count == 1 else 'nodes'} online."


def _body(reply: Any) -> str:
    if isinstance(reply, dict) and set(reply) == {"ok"}:
        return f"        {reply['ok']}"
    if isinstance(reply, list):
        if not reply:
            return "    - empty -"
        return "\n".join(f"    * {item}" for item in reply)
    text = json.dumps(reply, indent=4, sort_keys=True, default=repr)
    return "\n".join(f"    {line}" for line in text.splitlines())


def _say(replies: dict[str, Any], show: bool) -> None:
    for node, reply in replies.items():
        failed = isinstance(reply, dict) and "error" in reply
        click.echo(f"->  {node}: {'ERROR' if failed else 'OK'}")
        if failed:
            click.echo(f"        {reply['error']}")
        elif show:
            click.echo(_body(reply))
    click.echo("")
    click.echo(_nodes(len(replies)))


def _none_replied() -> NoReturn:
    click.echo("Error: No nodes replied within time constraint", err=True)
    raise SystemExit(EX_UNAVAILABLE)


def _options(function: Any) -> Any:
    function = click.option("-t", "--timeout", type=float, default=1.0,
                            help="Seconds to wait for replies.")(function)  # fmt: skip
    function = click.option("-d", "--destination",
                            help="Comma-separated node names to ask.")(function)  # fmt: skip
    return click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")(function)


def _destination(value: str | None) -> list[str] | None:
    names = [part.strip() for part in (value or "").split(",") if part.strip()]
    return names or None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("action", type=click.Choice(INSPECT))
@click.argument("arguments", nargs=-1)
@_options
@click.pass_context
def inspect(
    ctx: click.Context, /, action: str, arguments: tuple[str, ...], timeout: float,
    destination: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Ask the workers what they run, hold and know (ping, active, reserved, stats...)."""
    app = command_app(ctx, "inspect")
    asked = app.control.inspect(destination=_destination(destination), timeout=timeout)
    method = getattr(asked, action)
    replies = method(*arguments) if action == "query_task" else method()
    if not replies:
        _none_replied()
    if as_json:
        click.echo(json.dumps(replies, default=repr))
        return
    _say(replies, show=True)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("action", type=click.Choice(CONTROL))
@click.argument("arguments", nargs=-1)
@_options
@click.option("--terminate", is_flag=True, help="revoke: stop the task if it runs.")
@click.option("--signal", "signal_name", help="revoke: accepted (the task is stopped).")
@click.pass_context
def control(
    ctx: click.Context, /, action: str, arguments: tuple[str, ...], timeout: float,
    destination: str | None, as_json: bool, terminate: bool, signal_name: str | None,
) -> None:  # fmt: skip
    """Tell the workers to do something: shutdown, rate_limit TASK RATE, time_limit TASK
    SOFT [HARD], add_consumer QUEUE, cancel_consumer QUEUE, revoke ID..., pool_grow [N],
    pool_shrink [N], autoscale MAX [MIN]."""
    app = command_app(ctx, "control")
    if action == "revoke":
        if not arguments:
            raise click.UsageError("control revoke takes: TASK_ID [TASK_ID ...]")
        app.control.revoke(list(arguments), terminate=terminate, signal=signal_name)
        click.echo(f"tasks flagged as revoked: {', '.join(arguments)}")
        return
    given = _control_arguments(action, arguments)
    where = _destination(destination)
    if action in CONTROL_ARGUMENTS:
        answers = getattr(app.control, action)(
            **given, destination=where, reply=True, timeout=timeout
        )
    else:
        answers = app.control.broadcast(action, destination=where, reply=True, timeout=timeout)
    if not answers:
        _none_replied()
    replies = {node: reply for answer in answers or () for node, reply in answer.items()}
    if as_json:
        click.echo(json.dumps(replies, default=repr))
        return
    _say(replies, show=True)


def _control_arguments(action: str, arguments: tuple[str, ...]) -> dict[str, Any]:
    """A control command's arguments by name, converted, as ``celery control`` reads them."""
    names = CONTROL_ARGUMENTS.get(action, ())
    needed = len(names) - OPTIONAL.get(action, 0)
    if not needed <= len(arguments) <= len(names):
        shown = [n.upper() if i < needed else f"[{n.upper()}]" for i, n in enumerate(names)]
        raise click.UsageError(f"control {action} takes: {' '.join(shown)}")
    given: dict[str, Any] = dict(zip(names, arguments, strict=False))
    kinds = {"soft": float, "hard": float, "n": int, "max": int, "min": int}
    try:
        for key in given.keys() & kinds.keys():
            given[key] = kinds[key](given[key])
    except ValueError as exc:
        raise click.UsageError(f"control {action}: {exc}") from exc
    if action == "autoscale":
        given.setdefault("min", None)
    return given


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-t", "--timeout", type=float, default=1.0, help="Seconds to wait for replies.")
@click.option("-d", "--destination", help="Comma-separated node names to ask.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, /, timeout: float, destination: str | None, as_json: bool) -> None:
    """The workers that answer, one line each."""
    app = command_app(ctx, "status")
    replies = app.control.inspect(destination=_destination(destination), timeout=timeout).ping()
    if not replies:
        _none_replied()
    if as_json:
        click.echo(json.dumps(replies))
        return
    _say(replies, show=False)
