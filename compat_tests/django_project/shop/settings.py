"""Django settings, with Celery's settings under ``CELERY_`` names beside Django's own."""

import os

from celery.schedules import crontab

SECRET_KEY = "compat-tests-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "orders.apps.OrdersConfig",
    "billing",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("COMPAT_DB_PATH", "shop.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CELERY_BROKER_URL = os.environ["COMPAT_REDIS_URL"]
CELERY_RESULT_BACKEND = os.environ["COMPAT_REDIS_URL"]
CELERY_RESULT_EXTENDED = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ROUTES = {"billing.tasks.*": {"queue": "billing"}}
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "orders.tasks.tick", "schedule": 2.0, "args": ("interval",)},
    "every-minute": {"task": "orders.tasks.tick", "schedule": crontab(), "args": ("crontab",)},
    "nightly-report": {
        "task": "billing.tasks.nightly_report",
        "schedule": crontab(minute=30, hour=2, day_of_week="mon-fri"),
    },
}
