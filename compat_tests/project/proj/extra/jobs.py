"""Tasks nobody imports: the app finds them through ``autodiscover_tasks``."""

from celery import shared_task


@shared_task
def triple(x):
    return 3 * x
