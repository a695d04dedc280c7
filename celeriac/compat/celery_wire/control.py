"""Revoking across the two sides, through Celery's remote control mailbox (kombu's
"pidbox": a fanout exchange named ``control_exchange``, ``celery`` by default).

- A Celery caller's ``revoke`` (``AsyncResult.revoke()``, ``app.control.revoke``) is
  broadcast there: a celeriac worker reading Celery's queues listens too
  (:class:`ControlNode`) and revokes the task in celeriac's queues and workers; one it
  took out before it ran reads REVOKED to the Celery caller.
- celeriac's ``app.control.revoke`` in an app that sends tasks to Celery workers
  (``celeriac_celery_tasks``) broadcasts it there as well (:func:`revoke_in_celery`).

Only ``revoke`` is answered: other commands are Celery workers' to answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import states
from ..control import revoke_here
from ..exceptions import TaskRevokedError
from .messages import broker_url, kombu, logger
from .results import celery_meta, read_result, store_result

if TYPE_CHECKING:
    from ..app import Celery

__all__ = ["ControlNode", "revoke_in_celery"]


pidbox: Any = importlib.import_module("kombu.pidbox")  # untyped: reached through Any


def _mailbox(app: Celery, connection: Any) -> Any:
    exchange = str(app.conf.get("control_exchange") or "celery")
    return pidbox.Mailbox(exchange, type="fanout", accept=["json"])(connection)


def revoke_in_celery(
    app: Celery, ids: Sequence[str], *, terminate: bool = False, signal: Any = None
) -> None:
    """Broadcast a revoke to Celery's workers, as Celery's ``control.revoke`` does."""
    arguments = {"task_id": list(ids), "terminate": terminate, "signal": signal or "SIGTERM"}
    with kombu.Connection(broker_url(app)) as connection:
        _mailbox(app, connection)._broadcast("revoke", arguments)


class ControlNode:
    """The bridge's node in Celery's mailbox: answers ``revoke`` (see module docs)."""

    def __init__(self, app: Celery, hostname: str) -> None:
        self.app = app
        self.hostname = hostname
        self.revoked = 0

    def listen(self, connection: Any) -> Any:
        """Start listening on ``connection`` (a kombu consumer, to cancel at the end)."""
        mailbox = _mailbox(self.app, connection)
        self.node = mailbox.Node(self.hostname, handlers={"revoke": self.revoke})
        return self.node.listen(channel=connection.channel(), callback=self.received)

    def received(self, body: Any, message: Any) -> None:
        if isinstance(body, dict) and body.get("method") in self.node.handlers:
            self.node.handle_message(body, message)

    def revoke(
        self, state: Any, task_id: str | Sequence[str], terminate: bool = False, **_: Any
    ) -> dict[str, str]:
        ids = [task_id] if isinstance(task_id, str) else [str(i) for i in task_id]
        revoke_here(self.app, ids)
        taken = [i for i in ids if self.app.core.sync_broker.get_state(i) == states.REVOKED]
        for task_id_ in taken:  # taken out before it ran: the Celery caller reads so
            found = read_result(self.app, task_id_)
            if found is None or found.get("status") not in states.READY_STATES:
                exc = TaskRevokedError("revoked")
                store_result(self.app, celery_meta(task_id_, states.REVOKED, exc=exc))
        self.revoked += len(ids)
        logger.info("Tasks flagged as revoked: %s", ", ".join(ids))
        return {"ok": f"tasks {', '.join(ids)} flagged as revoked"}
