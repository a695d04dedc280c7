"""Celery's task states (``celeriac.states``): the names, the sets, and the precedence
that orders them (a custom state ranks below SUCCESS and FAILURE, above the others)."""

from __future__ import annotations

from ..core.result import FAILURE, PENDING, RETRY, REVOKED, STARTED, SUCCESS

__all__ = [
    "ALL_STATES",
    "EXCEPTION_STATES",
    "FAILURE",
    "IGNORED",
    "PENDING",
    "PRECEDENCE",
    "PROPAGATE_STATES",
    "READY_STATES",
    "RECEIVED",
    "REJECTED",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "UNREADY_STATES",
    "precedence",
    "state",
]

RECEIVED = "RECEIVED"
REJECTED = "REJECTED"
IGNORED = "IGNORED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})
ALL_STATES = frozenset(
    {PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED, IGNORED}
)

# highest first; None stands for any state not listed (custom states)
PRECEDENCE = [SUCCESS, FAILURE, None, REVOKED, STARTED, RECEIVED, REJECTED, RETRY, PENDING]
_RANK = {name: rank for rank, name in enumerate(PRECEDENCE)}


def precedence(state: str | None) -> int:
    """The rank of a state: a lower number means a higher precedence."""
    return _RANK.get(state, _RANK[None])


class state(str):
    """A state that compares by precedence: ``state(PENDING) < state(SUCCESS)``."""

    __slots__ = ()

    def __gt__(self, other: str) -> bool:
        return precedence(self) < precedence(other)

    def __ge__(self, other: str) -> bool:
        return precedence(self) <= precedence(other)

    def __lt__(self, other: str) -> bool:
        return precedence(self) > precedence(other)

    def __le__(self, other: str) -> bool:
        return precedence(self) >= precedence(other)
