"""Every Redis key name celeriac uses, in one place.

All keys start with a configurable prefix (default ``celeriac``). A queue's keys carry the
queue name as a hash tag, so on Redis Cluster they share one slot; a task's result and
dependents share the slot of its id. On a single Redis a script may touch keys of several
queues and tasks in one atomic call; on a Cluster each call stays on one slot and the
client runs the steps (see ``celeriac/core/broker/_cluster.py``). ::

    <prefix>:{<queue>}:stream:<step>   STREAM   ready messages of one priority step,
                                                consumer group GROUP; field "m" = envelope
    <prefix>:{<queue>}:delayed         ZSET     member "<step>:<task id>", score = due (ms)
    <prefix>:{<queue>}:delayed:data    HASH     member -> envelope of a delayed message
    <prefix>:{<queue>}:wake            STREAM   a token whenever a delayed message becomes
                                                the earliest: idle workers wait on it
    <prefix>:{<queue>}:alive           ZSET     consumer -> liveness deadline (ms): workers
                                                consuming the queue, renewed by heartbeats
    <prefix>:{<queue>}:starts          HASH     entry id -> times a redelivered message was
                                                started again (poison detection); dropped
                                                when the entry is acknowledged
    <prefix>:{<queue>}:dead            STREAM   dead letters: fields m (envelope, when there
                                                was one), raw (other fields), reason, error,
                                                stream (where it came from), time (ms)
    <prefix>:{<queue>}:done            LIST     ids of the queue's most recently finished
                                                tasks, newest first (capped)
    <prefix>:{<queue>}:cron            HASH     periodic entry name -> its last tick sent
                                                (ms): the state of the entries that send
                                                to the queue (same slot as the messages)
    <prefix>:{<queue>}:waiting         HASH     task id -> "step|due ms|envelope": tasks
                                                waiting for their parents
    <prefix>:{<queue>}:parents:<id>    SET      the parents a waiting task still waits for
    <prefix>:result:{<task id>}        HASH     s = state (plain), d = result envelope,
                                                q = queue, n = task name; PENDING from the
                                                moment the task is sent; with a TTL. Also
                                                the pub/sub channel announcing each result
    <prefix>:deps:{<task id>}          SET      "queue|child id" of the tasks waiting on it
                                                (same slot as its result)
    <prefix>:unique:{<lock>}           STRING   "<task id>|<ms set>": the queued-or-running
                                                instance of a unique task (lock = task
                                                name, or name and a digest of arguments)
    <prefix>:{cron}:entries            HASH     periodic entry name -> entry envelope: the
                                                entries added at run time
    <prefix>:{control}:revoked         ZSET     revoked task id -> expiry (ms)
    <prefix>:{control}                 pub/sub  control channel: "revoke <id> ..." (workers
                                                listen, to stop revoked tasks at once), and
                                                requests as JSON (remote control)
    <prefix>:{control}:reply:<id>      LIST     the workers' replies to request <id> (JSON),
                                                with a TTL
    <prefix>:{workers}                 ZSET     consumer -> liveness deadline (ms)
    <prefix>:{workers}:<consumer>      STRING   a live worker's info (JSON), with a TTL
    <prefix>:{events}                  STREAM   task events (received, started, ...): field
                                                "e" = a JSON TaskEvent; trimmed to about
                                                EVENTS_MAXLEN entries (MAXLEN ~)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .errors import ConfigurationError

__all__ = ["EVENT_FIELD", "GROUP", "MESSAGE_FIELD", "Keys", "check_queue_name"]

GROUP = "celeriac"
MESSAGE_FIELD = "m"
EVENT_FIELD = "e"


def check_queue_name(queue: str) -> str:
    """Return ``queue``, or raise when it cannot serve as a key part and hash tag."""
    if not queue or any(c in queue for c in "{}|") or len(queue) > 200:
        raise ConfigurationError(
            f"invalid queue name {queue!r}: use 1-200 characters without braces or '|'"
        )
    return queue


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix."""

    prefix: str = "celeriac"

    def __post_init__(self) -> None:
        if not self.prefix or "{" in self.prefix or "}" in self.prefix:
            raise ConfigurationError(
                f"invalid key prefix {self.prefix!r}: use a non-empty name without braces"
            )

    def stream(self, queue: str, step: int) -> str:
        return f"{self.prefix}:{{{queue}}}:stream:{step}"

    def delayed(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:delayed"

    def delayed_data(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:delayed:data"

    def wake(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:wake"

    def starts(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:starts"

    def alive(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:alive"

    def revoked(self) -> str:
        return f"{self.prefix}:{{control}}:revoked"

    def control(self) -> str:
        return f"{self.prefix}:{{control}}"

    def reply(self, request_id: str) -> str:
        return f"{self.prefix}:{{control}}:reply:{request_id}"

    def workers(self) -> str:
        return f"{self.prefix}:{{workers}}"

    def worker(self, consumer: str) -> str:
        return f"{self.prefix}:{{workers}}:{consumer}"

    def events(self) -> str:
        return f"{self.prefix}:{{events}}"

    def dead(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:dead"

    def result(self, task_id: str) -> str:
        return f"{self.prefix}:result:{{{task_id}}}"

    def deps(self, task_id: str) -> str:
        return f"{self.prefix}:deps:{{{task_id}}}"

    def unique(self, lock: str) -> str:
        return f"{self.prefix}:unique:{{{lock}}}"

    def done(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:done"

    def cron(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:cron"

    def cron_entries(self) -> str:
        return f"{self.prefix}:{{cron}}:entries"

    def waiting(self, queue: str) -> str:
        return f"{self.prefix}:{{{queue}}}:waiting"

    def parents(self, queue: str, task_id: str) -> str:
        return f"{self.prefix}:{{{queue}}}:parents:{task_id}"

    def queue_keys(self, queue: str, steps: Sequence[int]) -> list[str]:
        """Every key a queue may have (its streams for these priority steps included)."""
        return [
            *(self.stream(queue, step) for step in steps),
            self.delayed(queue),
            self.delayed_data(queue),
            self.waiting(queue),
            self.cron(queue),
            self.wake(queue),
            self.alive(queue),
            self.starts(queue),
            self.dead(queue),
            self.done(queue),
        ]

    def queue_of(self, key: str) -> str:
        """The queue name inside one of this prefix's queue keys."""
        start = key.index("{") + 1
        return key[start : key.index("}", start)]
