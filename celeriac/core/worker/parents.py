"""What a task that waited for others finds when it starts: their outcomes.

The broker releases a waiting task when its parents are done, whatever the outcome;
here the task learns whether they all succeeded (and their results, when it asked for
them). One that did not makes the task fail with ``DependencyFailed``, its error as
the cause, so failures run down a pipeline, each step recording why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..app import App
from ..errors import DependencyFailed
from ..result import SUCCESS, ExceptionInfo, ResultRecord

__all__ = ["parent_values"]


async def parent_values(app: App, parents: Sequence[str], *, needed: bool) -> list[Any]:
    """The parents' results, in order; raises DependencyFailed unless all succeeded
    (or, when ``needed``, when a result is gone)."""
    found = await app.broker.get_results(parents)
    values: list[Any] = []
    without_result: list[str] = []
    for parent, data in zip(parents, found, strict=True):
        if data is None:
            without_result.append(parent)
            values.append(None)
            continue
        record = ResultRecord.decode(data, app.codec)
        if record.state != SUCCESS:
            raise _failed(parent, record)
        values.append(record.value)
    # only then the parents without a result: a fan-in is released as soon as one
    # parent fails, when the others may not have finished yet; the failure is the news
    for parent in without_result:
        await _check_state_only(app, parent, needed)
    return values


async def _check_state_only(app: App, parent: str, needed: bool) -> None:
    """A parent without a stored result (ignore_result): its state must say SUCCESS."""
    state = await app.broker.get_state(parent)
    if state != SUCCESS:
        raise DependencyFailed(
            f"parent task {parent} did not succeed: its state is {state or 'unknown (expired?)'}",
            parent,
            state,
        )
    if needed:
        raise DependencyFailed(
            f"parent task {parent} succeeded but kept no result (ignore_result), "
            "and this task asked for it",
            parent,
            state,
        )


def _failed(parent: str, record: ResultRecord) -> DependencyFailed:
    why = f"{record.exc.qualified_name}: {record.exc.message}" if record.exc else record.state
    error = DependencyFailed(
        f"parent task {parent} did not succeed ({record.state}): {why}", parent, record.state
    )
    error.parent_error = record.exc
    info = ExceptionInfo.from_exception(error, with_traceback=False)
    error.__celeriac_info__ = ExceptionInfo(  # type: ignore[attr-defined]
        info.type_name, info.module, info.message, info.args, None, record.exc
    )
    return error
