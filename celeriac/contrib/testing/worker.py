"""Celery's ``celery.contrib.testing.worker``: a real worker in a thread, for tests."""

from ...compat.testing import TestWorkController, setup_app_for_worker, start_worker

__all__ = ["TestWorkController", "setup_app_for_worker", "start_worker"]
