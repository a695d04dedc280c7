"""`RetryPolicy`: when a task retries by itself, and how long it waits before each try."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import ConfigurationError, Retry

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries.

    ``on``: exception types that make the task retry by itself (``not_on`` excepted).
    Delays: ``delay`` seconds, doubled for each retry already made when ``backoff``,
    capped at ``max_delay``; with ``jitter`` the wait is drawn uniformly between zero and
    that ("full jitter", so many failing tasks do not all come back at once). A task that
    raises ``Retry(delay=...)`` chooses its own delay instead.
    """

    on: tuple[type[BaseException], ...] = ()
    not_on: tuple[type[BaseException], ...] = ()
    delay: float = 1.0
    backoff: bool = True
    max_delay: float = 600.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.delay < 0 or self.max_delay < 0:
            raise ConfigurationError("retry delays must not be negative")

    def retries_on(self, exc: BaseException) -> bool:
        """Whether ``exc`` makes the task retry by itself."""
        return isinstance(exc, self.on) and not isinstance(exc, self.not_on)

    def delay_for(self, retries: int) -> float:
        """Seconds to wait before the try that follows ``retries`` earlier retries."""
        wait = self.delay * 2**retries if self.backoff else self.delay
        wait = min(wait, self.max_delay)
        return random.uniform(0, wait) if self.jitter else wait

    def delay_of(self, retry: Retry, retries: int) -> float:
        """The wait a ``Retry`` asks for, or this policy's."""
        return self.delay_for(retries) if retry.delay is None else retry.delay
