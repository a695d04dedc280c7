"""`CeleryConsumer`: a thread of a celeriac worker that reads Celery's queues as kombu's
Redis transport keeps them and hands their messages over to celeriac's queues; what
cannot run here goes to a dead-letter list, never away.

kombu's own consumer reads one message per round trip (BRPOP) and acknowledges each in
another. The bridge takes up to ``prefetch`` messages in one script instead, registering
each exactly as kombu registers a delivered message (its ``unacked`` hash and index), so
kombu restores any the bridge never acknowledges, after its ``visibility_timeout``; once
they are stored in celeriac's queue, all are acknowledged in one round trip. The key
names, priority sub-queues and message envelope are kombu's, asked of kombu itself (its
channel, with the app's ``broker_transport_options``), and bodies are decoded by kombu.
An idle bridge looks again after 5 ms, then less often, up to every 50 ms.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...core.errors import BrokerError
from ...core.message import TaskMessage
from .control import ControlNode
from .messages import Foreign, broker_url, client, from_celery, kombu, logger

serialization: Any = importlib.import_module("kombu.serialization")  # untyped: Any
ACCEPT = serialization.prepare_accept_content(["json"])  # Celery's default

if TYPE_CHECKING:
    from ..app import Celery

__all__ = ["CeleryConsumer", "dead_letter_key"]

# Up to ARGV[1] messages from one queue's lists (KEYS[3..], the first served first),
# each registered as kombu registers a delivered message: in its unacked hash (KEYS[1]:
# tag -> [message, exchange, routing key]) and that hash's index (KEYS[2]: tag -> time).
# KEYS: kombu's unacked hash, its index, the queue's lists by priority.
# ARGV: how many at most, the time now (s). Returns the messages as kombu stored them.
TAKE = """
local want, now = tonumber(ARGV[1]), ARGV[2]
local taken = {}
for i = 3, #KEYS do
    while #taken < want do
        local item = redis.call('RPOP', KEYS[i])
        if not item then break end
        local ok, message = pcall(cjson.decode, item)
        local props = ok and type(message) == 'table' and message.properties
        local tag = type(props) == 'table' and props.delivery_tag
        if type(tag) == 'string' then
            local info = type(props.delivery_info) == 'table' and props.delivery_info or {}
            local route = cjson.encode(info.exchange or '') .. ','
            route = route .. cjson.encode(info.routing_key or '')
            redis.call('HSET', KEYS[1], tag, '[' .. item .. ',' .. route .. ']')
            redis.call('ZADD', KEYS[2], now, tag)
        end
        taken[#taken + 1] = item
    end
end
return taken
"""
IDLE_PAUSES = (0.005, 0.05)  # the first look again after nothing came, and the longest


def dead_letter_key(queue: str) -> str:
    return f"celeriac.celery-dead.{queue}"


class _Taken:
    """A message taken from kombu's list: the list, its bytes, its delivery tag."""

    __slots__ = ("item", "key", "queue", "tag")

    def __init__(self, queue: str, key: str, item: bytes, tag: str | None) -> None:
        self.queue, self.key, self.item, self.tag = queue, key, item, tag


class CeleryConsumer:
    """Reads Celery's queues in a thread of the worker's process and hands each message
    over to celeriac (see the module docstring)."""

    def __init__(
        self, app: Celery, queues: Iterable[str], *, prefetch: int = 100, hostname: str = ""
    ) -> None:
        self.app = app
        self.control = ControlNode(app, f"bridge.{hostname or socket.gethostname()}")
        self.queues = list(queues)
        self.prefetch = prefetch  # messages taken at once at most: a hand-over's size
        self._pending: list[tuple[TaskMessage, _Taken]] = []
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
        options = dict(self.app.conf.get("broker_transport_options") or {})
        options.setdefault("max_retries", 0)  # this loop tries again, and hears a stop
        while not self._stop.is_set():
            try:
                with kombu.Connection(url, transport_options=options) as connection:
                    self._consume(connection)
            except Exception as exc:  # the broker went away: again in a moment
                self._put_back()  # taken but not handed over: back to their lists
                if self._stop.is_set():
                    return
                logger.error("Celery bridge: %s; reconnecting in 1 second.", exc)
                self._stop.wait(1.0)

    def _consume(self, connection: Any) -> None:
        channel = connection.default_channel  # kombu's names for its keys
        prefix = str(getattr(channel, "global_keyprefix", "") or "")
        self._unacked = (prefix + channel.unacked_key, prefix + channel.unacked_index_key)
        self._lists = {
            queue: [prefix + name for name in priority_lists(channel, queue)]
            for queue in self._queue_order()
        }
        self._take = client(broker_url(self.app)).register_script(TAKE)
        channel.qos.restore_visible(num=100, interval=1)  # any a bridge left unacknowledged
        control = self.control.listen(connection)  # revokes from Celery callers
        with control:
            logger.info("Celery bridge: reading Celery's queues %s", ", ".join(self.queues))
            pause = IDLE_PAUSES[0]
            while not self._stop.is_set():
                taken = self._take_some()
                self._hand_over()
                with contextlib.suppress(TimeoutError):  # socket.timeout too: no control
                    connection.drain_events(timeout=0 if taken else pause)
                pause = IDLE_PAUSES[0] if taken else min(pause * 2, IDLE_PAUSES[1])

    def _queue_order(self) -> list[str]:
        return list(dict.fromkeys(self.queues))

    def _take_some(self) -> int:
        """Take what is there (up to ``prefetch``), the queues in turn; how many."""
        count = 0
        for queue, keys in self._lists.items():
            want = self.prefetch - len(self._pending)
            if want <= 0:
                break
            items = self._take(keys=[*self._unacked, *keys], args=[want, time.time()])
            for item in items:
                self.handle(queue, keys, item)
            count += len(items)
        return count

    def handle(self, queue: str, keys: list[str], item: bytes) -> None:
        """One message taken: made a celeriac task (handed over with the others taken
        meanwhile), or dead-lettered."""
        envelope: Any = None
        try:
            envelope = json.loads(item)
            properties = envelope["properties"]
            tag = properties["delivery_tag"]
        except (ValueError, TypeError, KeyError) as exc:
            taken = _Taken(queue, keys[0], item, None)
            self._dead_letter(taken, envelope, f"not a kombu message: {exc!r}")
            return
        taken = _Taken(queue, keys[0], item, str(tag))
        try:
            body = _decoded_body(envelope)
        except Exception as exc:
            self._dead_letter(taken, envelope, f"cannot decode the body: {exc}")
            return
        headers = envelope.get("headers") or {}
        try:
            task = from_celery(self.app, headers, body, properties, queue)
        except Foreign as exc:
            self._dead_letter(taken, envelope, str(exc))
            return
        self._pending.append((task, taken))

    def _hand_over(self) -> None:
        """Store the messages taken as celeriac tasks, in one round trip, then
        acknowledge them to kombu in another (while celeriac's Redis is unreachable they
        wait; at a stop they go back to their lists)."""
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
            self._ack([taken for _, taken in self._pending])
            self.handed += len(tasks)
            self._pending.clear()
            return
        self._put_back()

    def _ack(self, taken: list[_Taken], pipe: Any = None) -> None:
        tags = [t.tag for t in taken if t.tag is not None]
        if not tags:
            return
        own = pipe is None
        pipe = pipe if pipe is not None else client(broker_url(self.app)).pipeline()
        pipe.zrem(self._unacked[1], *tags)
        pipe.hdel(self._unacked[0], *tags)
        if own:
            pipe.execute()

    def _put_back(self) -> None:
        """Messages taken but not handed over go back where they were, to be taken
        first (if even this fails, kombu restores them from its unacked hash later)."""
        if not self._pending:
            return
        taken = [t for _, t in self._pending]
        self._pending.clear()
        try:
            with client(broker_url(self.app)).pipeline() as pipe:
                for t in reversed(taken):
                    pipe.rpush(t.key, t.item)
                self._ack(taken, pipe)
                pipe.execute()
        except Exception as exc:
            logger.error("Celery bridge: %d message(s) left for kombu to restore: %s",
                         len(taken), exc)  # fmt: skip

    def _dead_letter(self, taken: _Taken, envelope: Any, reason: str) -> None:
        envelope = envelope if isinstance(envelope, Mapping) else {}
        raw: Any = envelope.get("body", taken.item)
        if (envelope.get("properties") or {}).get("body_encoding") == "base64":
            with contextlib.suppress(ValueError, TypeError):  # else kept as it came
                raw = base64.b64decode(raw)
        if isinstance(raw, bytes):
            try:
                raw = raw.decode()
            except UnicodeDecodeError:
                raw = base64.b64encode(raw).decode()
        properties = envelope.get("properties")
        record = {
            "reason": reason,
            "queue": taken.queue,
            "at": time.time(),
            "headers": envelope.get("headers"),
            "properties": properties,
            "content_type": envelope.get("content-type"),
            "body": raw,
        }
        key = dead_letter_key(taken.queue)
        with client(broker_url(self.app)).pipeline() as pipe:
            pipe.rpush(key, json.dumps(record, default=repr))
            self._ack([taken], pipe)
            pipe.execute()
        logger.error(
            "Celery bridge: a message from %s cannot run here (%s): moved to %s",
            taken.queue,
            reason,
            key,
        )
        self.dead += 1


def priority_lists(channel: Any, queue: str) -> list[str]:
    """The names of kombu's lists for ``queue``, by priority step, first served first.
    kombu names them with an undocumented method of its Redis channel, asked where it is
    there; else they are named as kombu 5.3 to 5.7 do: the bare queue for step 0, the
    queue, the channel's separator and the step for the others."""
    named = getattr(channel, "_q_for_pri", None)
    steps = list(channel.priority_steps)
    if callable(named):
        return [str(named(queue, step)) for step in steps]
    logger.debug("Celery bridge: this kombu's Redis channel has no _q_for_pri: its priority "
                 "lists named as kombu 5.3-5.7 do")  # fmt: skip
    return [f"{queue}{channel.sep}{step}" if step else queue for step in steps]


def _decoded_body(envelope: Mapping[str, Any]) -> Any:
    """A kombu message's body, decoded by kombu (JSON only, as Celery's default)."""
    body: Any = envelope.get("body")
    properties = envelope.get("properties") or {}
    if properties.get("body_encoding") == "base64":
        body = base64.b64decode(body)
    content_type = envelope.get("content-type")
    encoding = envelope.get("content-encoding")
    return serialization.loads(body, content_type, encoding, accept=ACCEPT)
