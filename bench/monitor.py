"""Counting the commands Redis runs, with MONITOR, in a thread of its own.

MONITOR reports each command with where it came from: a client's address, or "lua"
for a command a script ran. Commands sent by a client are round trips (pipelines
aside); the ones a script runs cost no round trip.
"""

from __future__ import annotations

import threading
from collections import Counter
from types import TracebackType

import redis

STOP = "bench-monitor-stop"


class Monitor:
    def __init__(self, port: int, ignore: set[str]) -> None:
        self.port = port
        self.ignore = ignore  # "host:port" of connections not to count (the probe's)
        self.sent = 0
        self.scripted = 0
        self.by_command: Counter[str] = Counter()
        self._client = redis.Redis(host="127.0.0.1", port=port)
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("MONITOR did not start")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._client.echo(STOP)
        self._thread.join(30)
        self._client.close()

    def _listen(self) -> None:
        with self._client.monitor() as monitor:
            self._ready.set()
            for event in monitor.listen():
                command = event["command"]
                if command.startswith(f"ECHO {STOP}"):
                    return
                self._count(event, command.split(" ", 1)[0].upper())

    def _count(self, event: dict[str, object], name: str) -> None:
        if event.get("client_type") == "lua":
            self.scripted += 1
            self.by_command[f"{name} (in scripts)"] += 1
            return
        if f"{event.get('client_address')}:{event.get('client_port')}" in self.ignore:
            return
        self.sent += 1
        self.by_command[name] += 1

    def top(self, n: int, most: int = 6) -> str:
        """The most frequent commands, per task."""
        return ", ".join(
            f"{name} {count / n:.3g}" for name, count in self.by_command.most_common(most)
        )
