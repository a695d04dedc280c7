"""Celery's ``celery.app.task`` path: ``from celeriac.app.task import Task``."""

from ..compat.request import Context
from ..compat.task import Task

__all__ = ["Context", "Task"]
