"""Celery's ``celery.utils`` path (its ``log`` module)."""
