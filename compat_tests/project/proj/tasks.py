"""The project's tasks: one per behaviour the checks compare."""

import time

from celery import Task, group, shared_task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from proj.celery import app
from proj.errors import PaymentDeclined
from proj.notes import note

logger = get_task_logger(__name__)


@app.task
def add(x, y):
    return x + y


@shared_task
def mul(x, y):
    return x * y


@app.task(name="proj.renamed")
def named():
    return "named"


@app.task(bind=True)
def whoami(self, *args, **kwargs):
    request = self.request
    return {
        "task": request.task,
        "args": list(request.args),
        "kwargs": request.kwargs,
        "retries": request.retries,
        "is_eager": request.is_eager,
        "called_directly": request.called_directly,
        "root_is_self": request.root_id == request.id,
        "parent_id": request.parent_id,
        "hostname": request.hostname,
        "routing_key": (request.delivery_info or {}).get("routing_key"),
        "header_by_get": request.get("x_tenant"),
        "header_in_headers": (request.headers or {}).get("x_tenant"),
        "shadow": request.shadow,
        "ignore_result": request.ignore_result,
    }


@app.task(bind=True)
def routed(self):
    return self.request.delivery_info["routing_key"]


@app.task(bind=True)
def glob_routed(self):
    return self.request.delivery_info["routing_key"]


@app.task
def fail(text):
    raise ValueError(text)


@app.task
def declined(amount):
    raise PaymentDeclined(amount, "card expired")


@app.task(bind=True, max_retries=3)
def flaky(self, succeed_on):
    if self.request.retries < succeed_on:
        raise self.retry(countdown=0.1)
    return self.request.retries


@app.task(bind=True, max_retries=1)
def always_retry(self):
    raise self.retry(countdown=0.1)


@app.task(bind=True, max_retries=1)
def retry_with_exc(self):
    raise self.retry(exc=KeyError("gone"), countdown=0.1)


@app.task(bind=True, max_retries=2)
def retry_new_args(self, value):
    if self.request.retries == 0:
        raise self.retry(args=(value * 10,), countdown=0.1)
    return value


@app.task(
    bind=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=1,
    retry_jitter=False,
    retry_kwargs={"max_retries": 2},
)
def backoff(self):
    note(f"attempts:{self.request.id}", time.time())
    raise ConnectionError("still down")


@app.task(bind=True)
def progress(self):
    self.update_state(state="PROGRESS", meta={"step": 1, "of": 2})
    time.sleep(1.5)
    return "done"


@app.task
def ignored():
    raise Ignore()


@app.task(acks_late=True)
def rejected():
    raise Reject("no thanks", requeue=False)


@app.task(ignore_result=True)
def fire_and_forget(tag):
    note(tag, "ran")
    return "unseen"


@app.task(soft_time_limit=1)
def soft_limited():
    try:
        time.sleep(4)
    except SoftTimeLimitExceeded:
        return "soft limit caught"
    return "not interrupted"


@app.task(time_limit=1)
def hard_limited():
    time.sleep(4)
    return "not interrupted"


@app.task
def sleepy(seconds):
    time.sleep(seconds)
    return seconds


@app.task(track_started=True)
def tracked(seconds):
    time.sleep(seconds)
    return seconds


@app.task
def logs(text):
    logger.info("said %s", text)
    return text


@app.task
def record(value, tag):
    note(tag, value)
    return value


@app.task
def on_error(request, exc, traceback):
    note(
        f"errback:{request.id}",
        {"task": request.task, "type": type(exc).__name__, "text": str(exc)},
    )


@app.task(bind=True)
def spawner(self):
    return add.delay(20, 22).id


@app.task
def waits_inside():
    return add.delay(1, 1).get(timeout=5)


@app.task
def waits_allowed():
    return add.delay(2, 2).get(timeout=5, disable_sync_subtasks=False)


@app.task(bind=True, max_retries=1)
def slow_retry(self):
    if self.request.retries == 0:
        raise self.retry(exc=OSError("disk busy"), countdown=1.5)
    return "second try"


@app.task(rate_limit="2/s")
def limited(tag):
    note(tag, time.time())


class Audited(Task):
    """A custom base class whose hooks leave notes in the order they run."""

    def before_start(self, task_id, args, kwargs):
        note(f"hooks:{task_id}", "before_start")

    def on_success(self, retval, task_id, args, kwargs):
        note(f"hooks:{task_id}", f"on_success:{retval}")

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        note(f"hooks:{task_id}", f"on_retry:{type(exc).__name__}")

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        note(f"hooks:{task_id}", f"on_failure:{type(exc).__name__}:{exc}")

    def after_return(self, status, retval, task_id, args, kwargs, einfo):
        note(f"hooks:{task_id}", f"after_return:{status}")


@app.task(base=Audited, bind=True, max_retries=1)
def audited(self, should_fail):
    if self.request.retries == 0:
        raise self.retry(countdown=0.1)
    if should_fail:
        raise ValueError("audited failure")
    return "ok"


@app.task(base=Audited, bind=True, time_limit=1)
def audited_slow(self):
    time.sleep(4)
    return "not interrupted"


# -- canvas -----------------------------------------------------------------------------


@app.task
def tsum(values):
    return sum(values)


@app.task
def boom(*args):
    raise ZeroDivisionError(f"boom {args!r}")


@app.task
def echo_after(value, seconds):
    time.sleep(seconds)
    return value


@app.task(bind=True)
def member(self, *args):
    request = self.request
    return {
        "args": list(args),
        "in_group": request.group is not None,
        "group_index": request.group_index,
        "in_chord": request.chord is not None,
    }


@app.task(ignore_result=True)
def quiet_double(x):
    return x * 2


@app.task
def old_errback(task_id):
    note(f"old_errback:{task_id}", "called")


@app.task(bind=True)
def replaced(self, x):
    return self.replace(mul.s(x, 10))


@app.task(bind=True)
def replaced_by_group(self, n):
    return self.replace(group(add.s(i, i) for i in range(n)))
