"""The caller's side of the Django project: each scenario returns what a user sees, in
JSON. Run as ``python drive.py [NAME ...]`` beside a running worker (with beat)."""

import itertools
import json
import os
import sys
import time
import traceback

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
django.setup()  # as manage.py and every Django process do

from billing.tasks import invoice  # noqa: E402
from celery.result import AsyncResult  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from orders.errors import OutOfStock  # noqa: E402
from orders.models import Order  # noqa: E402
from orders.tasks import _notes, model_label, reserve, ship, time_zone  # noqa: E402
from shop import celery_app as app  # noqa: E402

SCENARIOS = {}


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def raised(call, expected):
    try:
        call()
    except Exception as exc:
        return {"type": type(exc).__name__, "text": str(exc), "caught": isinstance(exc, expected)}
    return None


@scenario
def django_settings():
    """Settings read from Django's settings module under CELERY_ names."""
    conf = app.conf
    return {
        "timezone": conf.timezone,
        "result_extended": conf.result_extended,
        "prefetch": conf.worker_prefetch_multiplier,
        "routes": repr(conf.task_routes),
        "beat_entries": {name: entry["task"] for name, entry in conf.beat_schedule.items()},
        "in_worker": time_zone.delay().get(timeout=10),
    }


@scenario
def autodiscovered_apps():
    """autodiscover_tasks() finds both apps' tasks through INSTALLED_APPS."""
    names = sorted(name for name in app.tasks if not name.startswith("celery."))
    registered = app.control.inspect(timeout=2).registered() or {}
    in_worker = sorted(
        name for names in registered.values() for name in names if not name.startswith("celery.")
    )
    return {"client": names, "worker": in_worker}


@scenario
def models_in_tasks():
    """A task module that imports models loads in the worker (django.setup() first)."""
    return model_label.delay().get(timeout=10)


@scenario
def orm_in_a_task():
    """A task reads and saves a row the caller created."""
    order = Order.objects.create(item="widget", quantity=2)
    shipped = ship.delay(order.pk).get(timeout=10)
    order.refresh_from_db()
    return {"returned": {**shipped, "id": shipped["id"] == order.pk}, "row": order.status}


@scenario
def delay_on_commit():
    """delay_on_commit sends the task once the transaction commits."""
    with transaction.atomic():
        order = Order.objects.create(item="gadget")
        returned = ship.delay_on_commit(order.pk)
        time.sleep(0.3)
        before = Order.objects.get(pk=order.pk).status
    shipped = wait_for(lambda: Order.objects.get(pk=order.pk).status == "shipped")
    return {"returned": returned, "before_commit": before, "shipped": shipped}


@scenario
def chain_across_apps():
    """A chain from one app's task to another's, routed to its own queue."""
    order = Order.objects.create(item="gizmo")
    result = (ship.s(order.pk) | invoice.s()).apply_async()
    value = result.get(timeout=10)
    meta = AsyncResult(result.id)
    wait_for(lambda: meta.state == "SUCCESS")
    return {"value": value.replace(str(order.pk), "N"), "queue": meta.queue, "name": meta.name}


@scenario
def base_class_failure_hook():
    """A custom Task base class's on_failure runs; the error reaches the caller."""
    _notes.delete("billing:failures")
    result = invoice.delay({"id": 7, "item": "x", "status": "new"})
    error = raised(lambda: result.get(timeout=10), ValueError)
    failures = wait_for(lambda: _notes.lrange("billing:failures", 0, -1))
    return {"error": error, "state": result.state, "hook": [f.decode() for f in failures]}


@scenario
def autoretry_with_backoff():
    """autoretry_for with retry_backoff: retries, then the custom exception."""
    ok = reserve.delay("widget").get(timeout=10)
    started = time.monotonic()
    result = reserve.delay("unobtainium")
    error = raised(lambda: result.get(timeout=20), OutOfStock)
    elapsed = time.monotonic() - started
    return {"ok": ok, "error": error, "window": 1.5 <= elapsed < 6 or round(elapsed, 2)}


@scenario
def beat_ticks():
    """Beat runs the schedule: an interval entry every 2 s and a crontab every minute,
    each tick once (run last: it waits for the minute to turn)."""

    def ticks(kind):
        return [json.loads(t) for t in _notes.lrange(f"ticks:{kind}", 0, -1)]

    wait_for(lambda: len(ticks("crontab")) >= 1 and len(ticks("interval")) >= 3, timeout=75)
    interval, minutely = ticks("interval"), ticks("crontab")
    gaps = [b - a for a, b in itertools.pairwise(interval)]
    return {
        "interval_ticks": len(interval) >= 3,
        "interval_gaps": all(1.0 <= gap <= 3.0 for gap in gaps) or [round(g, 2) for g in gaps],
        "crontab_ticks": len(minutely) >= 1,
        "crontab_on_the_minute": all(t % 60 < 5 for t in minutely) or [t % 60 for t in minutely],
        "crontab_once_a_minute": len({int(t // 60) for t in minutely}) == len(minutely),
    }


def main(names):
    call_command("migrate", verbosity=0)
    seen = {}
    for name in names or SCENARIOS:
        try:
            seen[name] = SCENARIOS[name]()
        except Exception:
            seen[name] = {"scenario_error": traceback.format_exc()}
    print(json.dumps(seen, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1:])
