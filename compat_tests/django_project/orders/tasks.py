"""The orders app's tasks: they use the ORM, so the worker must set Django up first."""

import json
import os
import time

import redis
from celery import shared_task
from celery.utils.log import get_task_logger
from django.conf import settings

from .errors import OutOfStock
from .models import Order

logger = get_task_logger(__name__)
_notes = redis.Redis.from_url(os.environ["COMPAT_REDIS_URL"])


@shared_task
def tick(kind):
    """Sent by beat: each tick notes when it ran."""
    _notes.rpush(f"ticks:{kind}", json.dumps(time.time()))
    return kind


@shared_task
def model_label():
    return Order._meta.label


@shared_task
def ship(order_id):
    order = Order.objects.get(pk=order_id)
    order.status = "shipped"
    order.save()
    logger.info("shipped order %s", order_id)
    return {"id": order.pk, "item": order.item, "status": order.status}


@shared_task(bind=True, autoretry_for=(OutOfStock,), retry_backoff=True, retry_backoff_max=1,
             retry_jitter=False, max_retries=2)  # fmt: skip
def reserve(self, item):
    if item == "unobtainium":
        raise OutOfStock(item)
    return {"item": item, "retries": self.request.retries}


@shared_task
def time_zone():
    return settings.TIME_ZONE
