"""Celery's schedules, where Celery keeps them: ``from celeriac.schedules import crontab``."""

from .compat.schedules import crontab, schedule, solar

__all__ = ["crontab", "schedule", "solar"]
