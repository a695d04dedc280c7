"""Celery's ``celery.contrib.testing.app``: an app for tests."""

from ...compat.testing import DEFAULT_TEST_CONFIG, TestApp

__all__ = ["DEFAULT_TEST_CONFIG", "TestApp"]
