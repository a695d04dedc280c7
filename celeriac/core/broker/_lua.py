"""The Lua scripts (files in ``lua/``) and the argument lists they take."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..keys import GROUP, MESSAGE_FIELD, Keys
from .base import FINAL_STATES, RECENT_DONE, Completion, Delivery, Outgoing, PrioritySteps
from .periodic import Tick

__all__ = ["MS", "PHASES", "SCRIPTS", "Commit", "Key", "Script", "fetch_args"]

MS = 1000  # Redis keeps due times and TTLs in whole milliseconds
MAX_OPS_PER_CALL = 1000  # keeps each script run short, so Redis stays responsive
PROMOTE_LIMIT = 1000


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str

    @classmethod
    def load(cls, name: str) -> Script:
        source = resources.files(__package__).joinpath("lua").joinpath(f"{name}.lua").read_text()
        return cls(name, source, hashlib.sha1(source.encode()).hexdigest())


SCRIPTS = {
    name: Script.load(name)
    for name in (
        "fetch",
        "commit",
        "requeue",
        "heartbeat",
        "reclaim",
        "worker",
        "revoke",
        "cron",
        "purge",
    )
}


def delayed_member(step: int, task_id: str) -> str:
    return f"{step}:{task_id}"


class Key(str):
    """An operation's key argument: the call passes it in KEYS and names it by index."""

    __slots__ = ()

    @property
    def tag(self) -> str:
        """The hash tag (every celeriac key has one): keys with the same tag share a slot."""
        start = self.index("{") + 1
        return self[start : self.index("}", start)]


Part = str | bytes | int

# On a Cluster each operation runs in one of these steps, in this order; within a step,
# one call per slot, the calls of a step at the same time (see _cluster.py).
CLAIM, CHECK, MARK, WAIT, LINK, WRITE, FREE, FINISH = range(8)
PHASES = (CLAIM, CHECK, MARK, WAIT, LINK, WRITE, FREE, FINISH)


@dataclass(slots=True)
class _Op:
    phase: int
    parts: tuple[Part | Key, ...]
    # an acknowledgement (stream, start counts, entry id): merged with the others of
    # its stream at the end of the call
    ack: tuple[Key, Key, str] | None = None
    owner: str = ""  # the task a send's operations belong to

    @property
    def tag(self) -> str:
        first = self.ack[0] if self.ack else next(p for p in self.parts if isinstance(p, Key))
        return first.tag


@dataclass
class _Call:
    keys: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    args: list[Part] = field(default_factory=list)
    acks: dict[tuple[int, int], list[str]] = field(default_factory=dict)
    done: dict[int, list[str]] = field(default_factory=dict)  # done list -> task ids
    ops: int = 0
    guarded: bool = False  # the last operation guards the next: they stay in one call

    def _k(self, key: Key) -> int:
        index = self.index.get(key)
        if index is None:
            self.keys.append(str(key))
            index = self.index[key] = len(self.keys)
        return index

    def add(self, op: _Op) -> None:
        self.ops += 1
        self.guarded = op.parts[:1] == ("T",) and op.parts[-1] != 0
        if op.ack is not None:
            stream, starts, entry_id = op.ack
            self.acks.setdefault((self._k(stream), self._k(starts)), []).append(entry_id)
            return
        parts = op.parts
        if parts[0] == "H":
            _, done_list, task_id = parts
            assert isinstance(done_list, Key)
            self.done.setdefault(self._k(done_list), []).append(str(task_id))
            return
        args, k = self.args, self._k
        for part in parts:
            args.append(k(part) if isinstance(part, Key) else part)

    def argv(self, head: list[Part]) -> list[Part]:
        """ARGV with the finished-task lists and acknowledgements last, one operation
        per key (the call is atomic, so where they stand inside it does not matter)."""
        tail: list[Part] = []
        for key, task_ids in self.done.items():
            tail += ["H", key, RECENT_DONE, len(task_ids), *task_ids]
        for (key, starts), ids in self.acks.items():
            tail += ["A", key, starts, len(ids), *ids]
        return [*head, *self.args, *tail]


class Commit:
    """Builds commit.lua calls (see its header).

    On a single Redis (``linked``) the operations of each public method stay in one call,
    so they apply together; large batches split into several calls. On a Cluster the
    operations are sorted into steps (``PHASES``) and, within a step, into one call per
    hash tag; the graph's cross-slot work becomes the ops C, K and F.
    """

    def __init__(self, keys: Keys, steps: PrioritySteps, *, linked: bool = True) -> None:
        self.keys = keys
        self.steps = steps
        self.linked = linked
        self.groups: list[list[_Op]] = []
        self._sent: set[str] = set()
        # unique tasks not sent because another instance holds their lock: id -> holder
        self.existing: dict[str, str] = {}
        self.refused: set[str] = set()  # periodic ticks not sent: sent already ('T')
        # a queue's keys that every finished task of a batch names again
        self._queue_keys: dict[tuple[str, int], tuple[Key, Key, Key]] = {}

    # -- recording --------------------------------------------------------------------

    def _group(self) -> None:
        """Start a group of operations that apply together (on a single Redis)."""
        self.groups.append([])

    def _op(self, phase: int, *parts: Part | Key, owner: str = "") -> None:
        self.groups[-1].append(_Op(phase, parts, owner=owner))

    def result(self, task_id: str, state: str, data: bytes | None, ttl: float | None) -> None:
        self._group()
        self._result(task_id, state, data, ttl)

    def _result(self, task_id: str, state: str, data: bytes | None, ttl: float | None) -> None:
        """Store a result; a final state also releases the task's dependents (commit.lua
        finds their set from the result key and tells a final state itself)."""
        self._op(WRITE, "R", Key(self.keys.result(task_id)), _ttl(ttl), state, data or b"")
        if not self.linked and state in FINAL_STATES:  # the set, once they are freed
            self._op(FINISH, "Z", Key(self.keys.deps(task_id)))

    def send(self, item: Outgoing) -> None:
        self._group()
        self._send(item)

    def _send(self, item: Outgoing) -> None:
        group = self.groups[-1]
        start = len(group)
        step = self.steps.step_for(item.priority)
        marker_ttl = _ttl(
            item.result_ttl and item.result_ttl + max(0.0, (item.due or 0) - time.time())
        )
        result = Key(self.keys.result(item.id))
        self._op(MARK, "P", result, marker_ttl, item.id, item.queue, item.name)
        if item.parents:
            self._wait(item, step)
        elif item.due is None:
            self._op(WRITE, "X", Key(self.keys.stream(item.queue, step)), item.data)
        else:
            zset = Key(self.keys.delayed(item.queue))
            data = Key(self.keys.delayed_data(item.queue))
            wake = Key(self.keys.wake(item.queue))
            member = delayed_member(step, item.id)
            self._op(WRITE, "D", zset, data, wake, member, int(item.due * MS), item.data)
        for op in group[start:]:
            op.owner = item.id
        if item.unique:  # first, so that on a single Redis it can skip the rest
            skip = sum(len(op.parts) for op in group[start:])
            claim = self._claim_op(item.unique, item.id, marker_ttl, "", skip)
            group.insert(start, claim)
        self._sent.add(item.id)

    def tick(self, tick: Tick) -> None:
        """A periodic entry's tick: its message, guarded by the entry's state (op 'T',
        just before the message's write, so that on a Cluster too they share a call)."""
        self._group()
        state = Key(self.keys.cron(tick.queue))
        if tick.item is None:
            self._op(WRITE, "T", state, tick.entry, tick.at, "", 0)
            return
        self._send(tick.item)
        group = self.groups[-1]
        write = next(i for i, op in enumerate(group) if op.phase in (WAIT, WRITE))
        parts = ("T", state, tick.entry, tick.at, tick.item.id, len(group[write].parts))
        group.insert(write, _Op(group[write].phase, parts, owner=tick.item.id))
        for i, op in enumerate(group):  # a unique claim skips the guard too when held
            if op.parts[:1] == ("U",) and op.owner == tick.item.id:
                *head, skip = op.parts
                assert isinstance(skip, int)
                group[i] = _Op(op.phase, (*head, skip + len(parts)), owner=op.owner)

    def _claim_op(self, lock: str, task_id: str, ttl: int, expect: str, skip: int) -> _Op:
        parts = ("U", Key(self.keys.unique(lock)), task_id, ttl, expect, skip)
        return _Op(CLAIM, parts, owner=task_id)

    def claim_again(self, claim: _Op, expect: str) -> list[tuple[list[str], list[Part]]]:
        """Cluster: the call that takes a lock whose holder ``expect`` is gone."""
        _, lock, task_id, ttl, _, skip = claim.parts
        return self._render([_Op(CLAIM, ("U", lock, task_id, ttl, expect, skip))])

    def claims(self) -> dict[str, _Op]:
        """The lock claims of this commit, by task id."""
        return {op.owner: op for g in self.groups for op in g if op.parts[:1] == ("U",)}

    def probe(self, task_id: str, holder: str) -> list[tuple[list[str], list[Part]]]:
        """Cluster: the calls that ask whether a lock's holder is still queued or running
        (its state, on its slot) and whether it was revoked (on the control slot)."""
        state = _Op(CLAIM, ("S", Key(self.keys.result(holder)), task_id, holder))
        revoked = _Op(CLAIM, ("V", Key(self.keys.revoked()), task_id, holder))
        return self._render([state]) + self._render([revoked])

    def drop(self, task_id: str, holder: str) -> None:
        """Cluster: a unique task is not sent; ``holder`` is the instance that counts."""
        self.existing[task_id] = holder
        for group in self.groups:
            group[:] = [op for op in group if op.owner != task_id]

    def release(self, lock: str, task_id: str) -> None:
        """A unique task reached a final state: free its lock (if it still holds it)."""
        self._op(FINISH, "Q", Key(self.keys.unique(lock)), task_id)

    def _wait(self, item: Outgoing, step: int) -> None:
        waiting = Key(self.keys.waiting(item.queue))
        parents = Key(self.keys.parents(item.queue, item.id))
        due = int(item.due * MS) if item.due else 0
        if item.after_delay > 0:  # negative: that long after the parents are done
            due = -max(1, int(item.after_delay * MS))
        # on a single Redis, a parent sent earlier in this batch may be in an earlier
        # call, and may finish before this one links the child: '~' says it was sent
        marked = [f"~{p}" if self.linked and p in self._sent else p for p in item.parents]
        self._op(
            WAIT,
            "W",
            waiting,
            parents,
            step,
            due,
            item.id,
            item.queue,
            item.data,
            len(item.parents),
            *marked,
        )
        if self.linked:
            return
        for parent in dict.fromkeys(item.parents):
            result, deps = Key(self.keys.result(parent)), Key(self.keys.deps(parent))
            if parent not in self._sent:
                self._op(CHECK, "C", result, parent)
            self._op(LINK, "K", result, deps, item.queue, item.id, parent)

    def free(self, queue: str, child: str, parent: str, succeeded: bool) -> None:
        """A parent finished: free its child (Cluster; see 'F' in commit.lua)."""
        self._group()
        waiting = Key(self.keys.waiting(queue))
        parents = Key(self.keys.parents(queue, child))
        self._op(FREE, "F", waiting, parents, queue, child, parent, "1" if succeeded else "0")

    def ack(self, delivery: Delivery) -> None:
        self._group()
        self._ack(delivery)

    def _ack(self, delivery: Delivery) -> None:
        stream, starts, _ = self._keys_of(delivery)
        self.groups[-1].append(_Op(FINISH, (), (stream, starts, delivery.tag)))

    def _keys_of(self, delivery: Delivery) -> tuple[Key, Key, Key]:
        """The stream, start counts and recently done list of a delivery's queue."""
        where = (delivery.queue, delivery.step)
        found = self._queue_keys.get(where)
        if found is None:
            queue, keys = delivery.queue, self.keys
            found = (
                Key(keys.stream(queue, delivery.step)),
                Key(keys.starts(queue)),
                Key(keys.done(queue)),
            )
            self._queue_keys[where] = found
        return found

    def nack(self, delivery: Delivery) -> None:
        self._group()
        stream = Key(self.keys.stream(delivery.queue, delivery.step))
        self._op(FINISH, "N", stream, Key(self.keys.starts(delivery.queue)), delivery.tag)

    def dead(self, delivery: Delivery, reason: str, error: str, now: float) -> None:
        fields: list[str | bytes] = ["reason", reason, "error", error]
        fields += ["step", str(delivery.step), "time", str(int(now * MS))]
        if delivery.data is not None:
            fields += [MESSAGE_FIELD, delivery.data]
        for name, value in delivery.raw.items():
            if name != MESSAGE_FIELD:  # kept above already
                fields += [f"raw:{name}", value]
        self._group()
        self._op(FINISH, "L", Key(self.keys.dead(delivery.queue)), len(fields) // 2, *fields)
        self._ack(delivery)

    def complete(self, item: Completion) -> None:
        self._group()
        if item.state is not None and item.result_id is not None:
            final = item.state in FINAL_STATES
            self._result(item.result_id, item.state, item.result, item.result_ttl)
            if final and item.unique:
                self.release(item.unique, item.result_id)
            if final:  # remembered among the queue's recently finished (see list_tasks)
                self._op(FINISH, "H", self._keys_of(item.delivery)[2], item.result_id)
        if item.then is not None:
            self._send(item.then)
        self._ack(item.delivery)

    # -- rendering --------------------------------------------------------------------

    def _head(self) -> list[Part]:
        return [GROUP, self.keys.prefix, "1" if self.linked else "0"]

    def _render(self, ops: Sequence[_Op]) -> list[tuple[list[str], list[Part]]]:
        call = _Call()
        for op in ops:
            call.add(op)
        return [(call.keys, call.argv(self._head()))]

    def absorb(self, replies: Sequence[Any]) -> None:
        """Single Redis: note the unique tasks the calls did not send (their 'U' notices)."""
        for kind, rest in notices(replies):
            if kind == "U":
                self.existing[rest[0]] = rest[1]
            elif kind == "T":
                self.refused.add(rest[0])

    def invocations(self) -> list[tuple[list[str], list[Part]]]:
        """(KEYS, ARGV) of each call on a single Redis, in order: each group whole in one
        call, a new call once one holds MAX_OPS_PER_CALL operations."""
        calls = [_Call()]
        for group in self.groups:
            if calls[-1].ops >= MAX_OPS_PER_CALL:  # groups stay whole, guards included
                calls.append(_Call())
            for op in group:
                calls[-1].add(op)
        return [(call.keys, call.argv(self._head())) for call in calls if call.ops]

    def phase(self, phase: int) -> list[tuple[list[str], list[Part]]]:
        """(KEYS, ARGV) of the calls of one Cluster step: one per hash tag (split when
        large), in the order the tags first appear."""
        by_tag: dict[str, list[_Call]] = {}
        for group in self.groups:
            for op in group:
                if op.phase != phase:
                    continue
                calls = by_tag.setdefault(op.tag, [_Call()])
                if calls[-1].ops >= MAX_OPS_PER_CALL and not calls[-1].guarded:
                    calls.append(_Call())
                calls[-1].add(op)
        return [(c.keys, c.argv(self._head())) for calls in by_tag.values() for c in calls]


def notices(replies: Sequence[Any]) -> Iterator[tuple[str, list[str]]]:
    """The notices in commit.lua replies (see its header): kind, then the rest."""
    for reply in replies:
        for notice in reply or ():
            kind, *rest = (text(part) for part in notice)
            yield kind, rest


def text(value: object) -> str:
    """A script reply's string (bytes with RESP2 and redis-py's defaults)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _ttl(ttl: float | None) -> int:
    return int(ttl * MS) if ttl else 0


def fetch_args(
    keys: Keys,
    *,
    queues: Sequence[str],
    steps: PrioritySteps,
    consumer: str,
    count: int,
    strict: bool,
) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV of fetch.lua."""
    key_list: list[str] = []
    for queue in queues:
        key_list += [keys.delayed(queue), keys.delayed_data(queue), keys.wake(queue)]
        key_list += [keys.stream(queue, step) for step in steps.descending]
    args: list[str | int] = [GROUP, consumer, count, int(strict), PROMOTE_LIMIT]
    args += [len(steps.steps), *steps.descending]
    return key_list, args
