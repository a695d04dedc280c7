"""The Celery app of ``bench/celery_app.py`` after the import swap
(``celeriac -A bench.compat_app worker``): the same tasks, with celeriac's key prefix
and queue so that the celeriac probe counts them."""

from __future__ import annotations

from bench.celery_tasks import register
from bench.common import CELERIAC_PREFIX, CELERIAC_QUEUE, redis_url
from celeriac import Celery, chain, chord

app = Celery(
    "bench_compat", broker=redis_url(0), backend=redis_url(0), celeriac_key_prefix=CELERIAC_PREFIX
)
app.conf.update(task_default_queue=CELERIAC_QUEUE)
noop, sleep = register(app)
__all__ = ["app", "chain", "chord", "noop", "sleep"]
