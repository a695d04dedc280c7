"""What RedisBroker does differently on a Redis Cluster.

A script may only touch keys of one slot there, and a queue's keys share one (its name
is their hash tag), but a task's result and dependents sit on the task id's slot. So:

* **Commits run in steps** (``commit_steps``): the operations of a batch are sorted into
  the phases of :class:`~._lua.Commit` and each phase runs as one call per slot, the
  calls of a phase at once. The graph's atomic step of a single Redis becomes a protocol
  that is safe at every point:

  0. CLAIM: unique tasks take their locks. A lock held by another task is taken over
     only when that holder is gone (its result final or missing, or it is revoked; a
     missing one only once the lock is older than CLAIM_GRACE, as its marker may be
     on its way); else
     the task is dropped from the batch and the holder's id is what the send returns;
  1. CHECK: every parent outside the batch is known and unfinished (else
     :class:`DependencyError`, before anything is written);
  2. MARK: the PENDING markers;
  3. WAIT: each child goes into its queue's waiting hash;
  4. LINK: each child is added to its parents' dependents sets, on the parents' slots;
     a parent that finished meanwhile answers with a notice to free the child;
  5. WRITE: messages, delays and results; a final result reports its dependents
     (the set stays); a periodic tick's message goes in the same call as the guard
     on its entry's state (both on the queue's slot);
  6. FREE: the children reported in 4 and 5 are freed, on their queues' slots
     (freeing twice does nothing);
  7. FINISH: acknowledgements, nacks and dead letters, and the dependents sets of the
     finished tasks are deleted.

  Acknowledging last is what keeps it safe: a worker that dies anywhere before step 7
  leaves its message unacknowledged, another worker runs the task again and its result
  reports the same dependents again. What a single Redis does atomically is, on a
  Cluster, at least once.

* **Blocking reads run per queue** (``QueueReaders``): XREADGROUP may not span slots,
  so a worker fetching several queues keeps one blocking read per queue; a read that
  returns while the fetch that started it is already over keeps its messages for the
  next fetch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any

from ..errors import DependencyError
from ._lua import CLAIM, FREE, PHASES, Commit, notices
from .base import FINAL_STATES, Delivery

__all__ = ["QueueReaders", "commit_steps"]

Calls = list[tuple[str, list[str], list[Any]]]
CLAIM_GRACE_MS = 60_000  # a lock whose holder has no result record yet counts this long
CLAIM_ROUNDS = 5  # a lock that changes hands this often under our feet: the holder wins


def commit_steps(commit: Commit) -> Generator[Calls, list[Any], None]:
    """The calls of each step, in order; send each step's replies back in.

    A generator so that the async broker and its sync twin share it: they differ only
    in how they run the calls of a step.
    """
    for phase in PHASES:
        if phase == CLAIM:
            yield from _claim(commit)
            continue
        calls = commit.phase(phase)
        if not calls:
            continue
        replies = yield _scripts(calls)
        if phase >= FREE:
            continue
        for kind, rest in notices(replies):
            if kind == "E":
                raise DependencyError(rest[0])
            if kind == "T":  # a periodic tick sent already: its message was skipped
                commit.refused.add(rest[0])
                continue
            queue, child, parent, ok = rest
            commit.free(queue, child, parent, ok == "1")


def _scripts(calls: list[tuple[list[str], list[Any]]]) -> Calls:
    return [("commit", keys, args) for keys, args in calls]


def _claim(commit: Commit) -> Generator[Calls, list[Any], None]:
    """Step 0: take the locks of unique tasks (see the module's docstring)."""
    claims = commit.claims()
    calls = commit.phase(CLAIM)
    retrying: dict[str, str] = {}
    for _ in range(CLAIM_ROUNDS):
        if not calls:
            return
        held = [(rest[0], rest[1], int(rest[2])) for _, rest in notices((yield _scripts(calls)))]
        if not held:
            return
        probes = [call for task_id, holder, _ in held for call in commit.probe(task_id, holder)]
        states, revoked = {}, set()
        for kind, rest in notices((yield _scripts(probes))):
            if kind == "S":
                states[rest[0]] = rest[2]
            elif rest[2] == "1":
                revoked.add(rest[0])
        calls, retrying = [], {}
        for task_id, holder, age in held:
            state = states.get(task_id, "")
            missing = not state and age > CLAIM_GRACE_MS
            if state in FINAL_STATES or missing or task_id in revoked:
                calls += commit.claim_again(claims[task_id], holder)
                retrying[task_id] = holder
            else:
                commit.drop(task_id, holder)
    for task_id, holder in retrying.items():  # still contested: the last holder keeps it
        commit.drop(task_id, holder)


Read = Callable[[str, str, int], Awaitable[list[Delivery]]]


class QueueReaders:
    """One blocking read per (consumer, queue), kept across fetches (one event loop).

    ``read(queue, consumer, block_ms)`` is the blocking read of one queue. A read that
    outlives the fetch that started it is not cancelled (its messages may be claimed
    already): the next fetch of that consumer collects what it brought.
    """

    def __init__(self, read: Read) -> None:
        self._read = read
        self._running: dict[tuple[str, str], asyncio.Task[list[Delivery]]] = {}
        self._kept: dict[str, list[Delivery]] = {}

    def take(self, consumer: str, count: int) -> list[Delivery]:
        """Messages already read for this consumer (at most ``count``)."""
        for key, task in list(self._running.items()):
            if key[0] == consumer and task.done():
                del self._running[key]
                self._kept.setdefault(consumer, []).extend(task.result())  # raises its error
        kept = self._kept.get(consumer, [])
        taken, self._kept[consumer] = kept[:count], kept[count:]
        return taken

    async def wait(
        self, queues: Sequence[str], consumer: str, count: int, block_ms: int, wait_ms: int
    ) -> list[Delivery]:
        """Wait up to ``wait_ms`` for a message on any of these queues (a read started
        here blocks up to ``block_ms``)."""
        mine = []
        for queue in queues:
            task = self._running.get((consumer, queue))
            if task is None:
                task = asyncio.ensure_future(self._read(queue, consumer, block_ms))
                self._running[consumer, queue] = task
            mine.append(task)
        await asyncio.wait(mine, timeout=wait_ms / 1000, return_when=asyncio.FIRST_COMPLETED)
        return self.take(consumer, count)

    async def aclose(self) -> None:
        """Stop every read (a message one had claimed is recovered as a dead worker's)."""
        tasks, self._running = list(self._running.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._kept.clear()
