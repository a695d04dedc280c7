"""The project's app, in the layout Celery's docs recommend (``proj/celery.py``)."""

from celery import Celery

app = Celery("proj", include=["proj.tasks", "proj.hooks"])
app.config_from_object("proj.celeryconfig")
app.autodiscover_tasks(["proj.extra"], related_name="jobs")
