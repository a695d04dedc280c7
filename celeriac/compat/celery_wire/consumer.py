"""`CeleryConsumer`: a thread of a celeriac worker that reads Celery's queues with kombu
and hands their messages over to celeriac's queues; what cannot run here goes to a
dead-letter list, never away."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ...core.errors import BrokerError
from ...core.message import TaskMessage
from .control import ControlNode
from .messages import Foreign, broker_url, client, from_celery, kombu, logger

if TYPE_CHECKING:
    from ..app import Celery

__all__ = ["CeleryConsumer", "dead_letter_key"]


def dead_letter_key(queue: str) -> str:
    return f"celeriac.celery-dead.{queue}"


class CeleryConsumer:
    """Reads Celery's queues with kombu in a thread of the worker's process and hands
    each message over to celeriac (see the module docstring)."""

    def __init__(
        self, app: Celery, queues: Iterable[str], *, prefetch: int = 100, hostname: str = ""
    ) -> None:
        self.app = app
        self.control = ControlNode(app, f"bridge.{hostname or socket.gethostname()}")
        self.queues = list(queues)
        self.prefetch = prefetch  # kombu's unacked messages at most: a hand-over's size
        self._pending: list[tuple[TaskMessage, Any]] = []
        self.handed = 0
        self.dead = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="celery-bridge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        url = broker_url(self.app)
        while not self._stop.is_set():
            try:
                with kombu.Connection(url) as connection:
                    self._consume(connection)
            except Exception as exc:  # the broker went away: again in a moment
                # messages read but not handed over stay unacked: kombu restores them
                self._pending.clear()
                if self._stop.is_set():
                    return
                logger.error("Celery bridge: %s; reconnecting in 1 second.", exc)
                self._stop.wait(1.0)

    def _consume(self, connection: Any) -> None:
        queues = [kombu.Queue(name, routing_key=name) for name in self.queues]
        consumer = connection.Consumer(
            queues, callbacks=[self.handle], accept=["json"], prefetch_count=self.prefetch
        )
        consumer.on_decode_error = self._undecodable
        control = self.control.listen(connection)  # revokes from Celery callers
        with consumer, control:
            logger.info("Celery bridge: reading Celery's queues %s", ", ".join(self.queues))
            while not self._stop.is_set():
                try:
                    connection.drain_events(timeout=0.25)
                except TimeoutError:  # socket.timeout too: nothing came meanwhile
                    continue
                while len(self._pending) < self.prefetch:  # what else is there already
                    try:
                        connection.drain_events(timeout=0.001)
                    except TimeoutError:
                        break
                self._hand_over()

    def handle(self, body: Any, message: Any) -> None:
        """kombu's callback: a message to hand over (with the others read meanwhile)."""
        queue = str((message.delivery_info or {}).get("routing_key") or self.queues[0])
        try:
            task = from_celery(self.app, message.headers or {}, body, message.properties, queue)
        except Foreign as exc:
            self._dead_letter(message, queue, str(exc))
            return
        self._pending.append((task, message))

    def _hand_over(self) -> None:
        """Store the messages read as celeriac tasks, in one round trip, then ack them to
        kombu (while celeriac's Redis is unreachable they wait; at a stop they go back)."""
        if not self._pending:
            return
        tasks = [task for task, _ in self._pending]
        while not self._stop.is_set():
            try:
                self.app.core.send_sync(tasks)
            except BrokerError as exc:
                logger.error("Celery bridge: cannot store %d task(s): %s", len(tasks), exc)
                self._stop.wait(1.0)
                continue
            for _, message in self._pending:
                message.ack()
            self.handed += len(tasks)
            self._pending.clear()
            return
        for _, message in self._pending:
            message.requeue()
        self._pending.clear()

    def _undecodable(self, message: Any, exc: Exception) -> None:
        queue = str((message.delivery_info or {}).get("routing_key") or self.queues[0])
        self._dead_letter(message, queue, f"cannot decode the body: {exc}")

    def _dead_letter(self, message: Any, queue: str, reason: str) -> None:
        raw = message.body
        if isinstance(raw, bytes):
            try:
                raw = raw.decode()
            except UnicodeDecodeError:
                raw = base64.b64encode(raw).decode()
        record = {
            "reason": reason,
            "queue": queue,
            "at": time.time(),
            "headers": message.headers,
            "properties": message.properties,
            "content_type": message.content_type,
            "body": raw,
        }
        key = dead_letter_key(queue)
        client(broker_url(self.app)).rpush(key, json.dumps(record, default=repr))
        logger.error(
            "Celery bridge: a message from %s cannot run here (%s): moved to %s",
            queue,
            reason,
            key,
        )
        message.ack()
        self.dead += 1
