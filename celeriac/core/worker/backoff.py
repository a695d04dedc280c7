"""Exponential backoff for reconnecting: 1, 2, 4 ... seconds, capped."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass
class Backoff:
    first: float = 1.0
    cap: float = 30.0
    attempts: int = 0

    def next(self) -> float:
        """The delay before the next attempt (and count this one)."""
        delay = float(min(self.cap, self.first * 2**self.attempts))
        self.attempts += 1
        return delay
