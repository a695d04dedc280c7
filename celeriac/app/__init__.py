"""Celery's ``celery.app`` path: ``from celeriac.app import shared_task``."""

from ..compat.app import Celery, current_app, shared_task

__all__ = ["Celery", "current_app", "shared_task"]
