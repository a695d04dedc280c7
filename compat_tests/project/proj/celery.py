"""The project's app, in the layout Celery's docs recommend (``proj/celery.py``)."""

from celery import Celery

app = Celery("proj", include=["proj.tasks", "proj.hooks"])
app.config_from_object("proj.celeryconfig")
