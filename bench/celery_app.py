"""The benchmark's Celery app (``celery -A bench.celery_app worker``): Redis broker in
database 0, Redis result backend in database 1, everything else Celery's defaults."""

from __future__ import annotations

from celery import Celery, chain, chord

from bench.celery_tasks import register
from bench.common import CELERY_QUEUE, CELERY_RESULT_DB, redis_url

app = Celery("bench_celery", broker=redis_url(0), backend=redis_url(CELERY_RESULT_DB))
app.conf.update(
    task_default_queue=CELERY_QUEUE,
    broker_connection_retry_on_startup=True,
)
noop, sleep = register(app)
__all__ = ["app", "chain", "chord", "noop", "sleep"]
