"""The Django project: its Celery app is loaded with Django, as Celery's Django guide says."""

from .celery import app as celery_app

__all__ = ("celery_app",)
