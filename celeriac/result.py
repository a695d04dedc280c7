"""Celery's result classes, where Celery keeps them: ``from celeriac.result import AsyncResult``."""

from .compat.result import (
    AsyncResult,
    EagerResult,
    GroupResult,
    ResultBase,
    ResultSet,
    result_from_tuple,
)

__all__ = [
    "AsyncResult",
    "EagerResult",
    "GroupResult",
    "ResultBase",
    "ResultSet",
    "result_from_tuple",
]
