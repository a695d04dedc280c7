"""What the orchestrator reads from each system's Redis while a worker drains a queue.

A probe answers two numbers in one round trip per database:

* ``ready``: messages waiting to be fetched (not yet handed to a worker);
* ``done``:  results stored.

``done`` counts result keys exactly, whatever else the system creates or deletes:

* celeriac: one ``<prefix>:result:{<id>}`` hash per task, made PENDING when the task is
  sent. A message leaves its stream (XACK + XDEL) in the same atomic step that stores
  its result, so ``done`` is the number of result keys minus the messages still in the
  streams. Result keys are DBSIZE minus the queue's own keys (``Keys.queue_keys``; the
  worker creates the other priority steps' streams when it first fetches) and the
  registry of live workers (one key per worker, plus the registry itself), counted
  with one EXISTS.
* Celery: one ``celery-task-meta-<id>`` string per task, in a database of its own
  (kombu's ``unacked`` hashes and bindings come and go in database 0): DBSIZE.
* streaQ: a ``task:results:<id>`` string per task, but also a ``task:data:<id>`` key per
  task that is deleted when it finishes, so DBSIZE does not move; its results index
  (a sorted set with one member per stored result) is counted instead: ZCARD.

:meth:`Probe.result_keys` counts the result keys by name afterwards (SCAN); the run
checks that it agrees with ``done``, and that both are N.
"""

from __future__ import annotations

from typing import Any

import redis

from bench.common import (
    CELERIAC_PREFIX,
    CELERIAC_QUEUE,
    CELERY_QUEUE,
    CELERY_RESULT_DB,
    STREAQ_QUEUE,
)
from celeriac.core.broker import DEFAULT_PRIORITY_STEPS
from celeriac.core.keys import Keys

STREAQ_GROUP = "workers"


def _count(value: Any) -> int:
    return value if isinstance(value, int) else 0  # a reply that is an error counts 0


def _pending(value: Any) -> int:
    if isinstance(value, dict):
        return int(value.get("pending") or 0)
    return 0


class Probe:
    result_pattern = ""

    def __init__(self, port: int) -> None:
        self.client = redis.Redis(host="127.0.0.1", port=port, db=0, socket_timeout=10)
        self.results_client = self.client

    def read(self) -> tuple[int, int]:
        raise NotImplementedError

    def result_keys(self) -> int:
        return sum(1 for _ in self.results_client.scan_iter(self.result_pattern, count=1000))

    def addresses(self) -> set[str]:
        """host:port of this probe's connections (so MONITOR can leave them out)."""
        self.read()  # make sure every connection it uses is open
        found = set()
        for client in {
            id(self.client): self.client,
            id(self.results_client): self.results_client,
        }.values():
            info = client.client_info()
            found.add(info["addr"])
        return found

    def close(self) -> None:
        self.client.close()
        if self.results_client is not self.client:
            self.results_client.close()


class CeleriacProbe(Probe):
    result_pattern = f"{CELERIAC_PREFIX}:result:*"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        keys, queue = Keys(CELERIAC_PREFIX), CELERIAC_QUEUE
        self.streams = [keys.stream(queue, step) for step in DEFAULT_PRIORITY_STEPS]
        self.queue_keys = keys.queue_keys(queue, DEFAULT_PRIORITY_STEPS)
        self.registry = keys.workers()  # plus one info key per live worker

    def read(self) -> tuple[int, int]:
        pipe = self.client.pipeline(transaction=False)
        for key in self.streams:
            pipe.xlen(key)
            pipe.xpending(key, "celeriac")
        pipe.exists(*self.queue_keys, self.registry)
        pipe.zcard(self.registry)
        pipe.dbsize()
        *streams, queue_keys, workers, size = pipe.execute(raise_on_error=False)
        lengths = [_count(xlen) for xlen in streams[::2]]
        ready = sum(lengths) - sum(_pending(p) for p in streams[1::2])
        results = _count(size) - _count(queue_keys) - _count(workers)
        return ready, results - sum(lengths)


class CeleryProbe(Probe):
    result_pattern = "celery-task-meta-*"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.results_client = redis.Redis(
            host="127.0.0.1", port=port, db=CELERY_RESULT_DB, socket_timeout=10
        )

    def read(self) -> tuple[int, int]:
        return int(self.client.llen(CELERY_QUEUE)), int(self.results_client.dbsize())


class StreaqProbe(Probe):
    prefix = f"streaq:{STREAQ_QUEUE}"
    result_pattern = f"{prefix}:task:results:*"

    def read(self) -> tuple[int, int]:
        stream = f"{self.prefix}:queues:normal"
        pipe = self.client.pipeline(transaction=False)
        pipe.xlen(stream)
        pipe.xpending(stream, STREAQ_GROUP)  # NOGROUP until the worker starts: 0
        pipe.zcard(f"{self.prefix}:index:results")
        xlen, pending, results = pipe.execute(raise_on_error=False)
        return _count(xlen) - _pending(pending), _count(results)


PROBES: dict[str, type[Probe]] = {
    "celeriac": CeleriacProbe,
    "compat": CeleriacProbe,  # celeriac's Celery API keeps celeriac's keys
    "celery": CeleryProbe,
    "streaq": StreaqProbe,
}
