"""What is where: a task's state and place by id, and the tasks of a queue by place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .broker import PLACES
from .errors import ConfigurationError, DecodeError
from .logs import worker_logger as logger
from .message import TaskMessage
from .result import ResultRecord

if TYPE_CHECKING:
    from .app import App

__all__ = ["PLACES", "TaskInfo", "list_tasks", "task_info"]


@dataclass(frozen=True)
class TaskInfo:
    """One task as introspection sees it.

    ``place``: ``queued`` (in its queue), ``scheduled`` (delayed until ``due``, POSIX
    seconds), ``waiting`` (for parents), ``running`` (taken by worker consumer
    ``worker``; prefetched messages count too) or ``done``. ``message`` is the call
    (when the task has not finished) and ``result`` its stored result record (when
    there is one).
    """

    id: str
    name: str
    queue: str
    state: str
    place: str
    due: float | None = None
    worker: str | None = None
    message: TaskMessage | None = None
    result: ResultRecord | None = None


async def task_info(app: App, task_id: str) -> TaskInfo | None:
    view = await app.broker.inspect_task(task_id)
    if view is None:
        return None
    result = _record(app, view.result)
    return TaskInfo(
        view.id, view.name, view.queue, view.state, view.place, view.due, None, None, result
    )


async def list_tasks(app: App, place: str, queue: str | None, limit: int) -> list[TaskInfo]:
    if place not in PLACES:
        raise ConfigurationError(f"place must be one of {', '.join(PLACES)}, got {place!r}")
    queue = queue or app.default_queue
    listed = await app.broker.list_tasks(queue, place, limit)
    if place == "done":
        ids = [item.task_id or "" for item in listed]
        records = [_record(app, data) for data in await app.broker.get_results(ids)]
        return [
            TaskInfo(
                task_id, (r.name or "") if r else "", queue, r.state if r else "", place, result=r
            )
            for task_id, r in zip(ids, records, strict=True)
        ]
    found = []
    for item in listed:
        try:
            message = TaskMessage.decode(item.data or b"", app.codec)
        except DecodeError as exc:
            logger.warning("Introspection skips an unreadable %s message: %s", place, exc)
            continue
        state = "STARTED" if place == "running" else "RETRY" if message.retries else "PENDING"
        found.append(
            TaskInfo(
                message.id, message.name, queue, state, place, item.due, item.consumer, message
            )
        )
    return found


def _record(app: App, data: bytes | None) -> ResultRecord | None:
    if data is None:
        return None
    try:
        return ResultRecord.decode(data, app.codec)
    except DecodeError as exc:
        logger.warning("Introspection skips an unreadable result: %s", exc)
        return None
