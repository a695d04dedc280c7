"""The periodic entries of an app: declared in code, or stored in the broker at run time.

A stored entry replaces a code entry of the same name (until it is removed). Stored
entries are encoded and signed like task messages, so with signing on, an entry written
into Redis by anyone without the key is refused, never sent.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ..errors import DecodeError
from ..logs import beat_logger as logger
from ..options import SendOptions
from .entry import Periodic

if TYPE_CHECKING:
    from ..app import App

__all__ = ["entries", "queue_of", "remove", "send_options", "store"]


def send_options(app: App, entry: Periodic) -> SendOptions:
    """How ``entry``'s ticks are sent: the task's own options (when it is registered
    here), then the entry's."""
    task = app.tasks.get(entry.task)
    return entry.send_options(task.defaults if task is not None else SendOptions())


def queue_of(app: App, entry: Periodic) -> str:
    """The queue ``entry`` sends to, where its state is kept."""
    return send_options(app, entry).queue or app.default_queue


async def entries(app: App, warned: set[str] | None = None) -> dict[str, Periodic]:
    """Every entry: those declared in code, replaced by stored ones of the same name.
    A stored entry that cannot be read (or is not signed with a key this app knows) is
    skipped with a warning (once, when ``warned`` keeps what was reported)."""
    if warned is None:
        warned = set()
    found = dict(app.periodic_declared)
    for name, data in (await app.broker.periodic.entries()).items():
        try:
            found[name] = Periodic.decode(data, app.codec)
        except DecodeError as exc:
            digest = hashlib.sha256(name.encode() + b"\0" + data).hexdigest()
            if digest not in warned:
                warned.add(digest)
                logger.warning("Skipping stored periodic entry %r: %s", name, exc)
    return found


async def store(app: App, entry: Periodic) -> None:
    """Store ``entry`` in the broker (replacing one of the same name); its ticks count
    from now."""
    data = entry.encode(app.codec)
    previous = await app.broker.periodic.remove(entry.name)
    await _forget(app, entry.name, previous, keep=queue_of(app, entry))
    await app.broker.periodic.put(entry.name, data, queue_of(app, entry))


async def remove(app: App, name: str) -> bool:
    """Take a stored entry out (and its state); False when none is stored under
    ``name``. An entry of that name declared in code stays."""
    previous = await app.broker.periodic.remove(name)
    await _forget(app, name, previous)
    return previous is not None


async def _forget(app: App, name: str, data: bytes | None, keep: str = "") -> None:
    """Drop the state a stored entry kept in its queue (unless that queue is ``keep``)."""
    if data is None:
        return
    try:
        queue = queue_of(app, Periodic.decode(data, app.codec))
    except DecodeError:
        return  # unreadable here: where its state is cannot be known
    if queue != keep:
        await app.broker.periodic.forget(queue, name)
