"""The shop's own test setup: Django configured, a fresh database, Celery's fixtures."""

import os

import django
import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
django.setup()

pytest_plugins = ("celery.contrib.pytest",)


@pytest.fixture(scope="session", autouse=True)
def database():
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@pytest.fixture
def eager():
    from shop.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture(scope="session")
def celery_config():
    return {"broker_url": "memory://", "result_backend": "cache+memory://"}
