"""Celery's ``celery.utils.log`` path: ``from celeriac.utils.log import get_task_logger``."""

from ..compat.log import get_logger, get_task_logger

__all__ = ["get_logger", "get_task_logger"]
