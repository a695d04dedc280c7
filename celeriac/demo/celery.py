"""The app, as a Celery project's ``proj/celery.py`` makes it."""

from __future__ import annotations

import os

from celeriac import Celery

BROKER_URL = os.environ.get("CELERIAC_BROKER_URL", "memory://")

app = Celery("demo", broker=BROKER_URL, backend=BROKER_URL)
app.config_from_object("celeriac.demo.celeryconfig")
app.autodiscover_tasks(["celeriac.demo"])
