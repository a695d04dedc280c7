"""Celery's ``celery.contrib.testing`` path."""
