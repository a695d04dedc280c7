"""Celery's ``celery.contrib`` path: the pytest plugin and the test worker."""
