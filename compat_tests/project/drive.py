"""The caller's side: each scenario calls the project's tasks and returns what a user
sees (states, values, exception types and messages, ordering, time windows), in JSON.

Run as ``python drive.py [NAME ...]`` beside a running worker; it prints one JSON object
mapping each scenario's name to its observations (or to the error that stopped it).
"""

import datetime as dt
import itertools
import json
import os
import re
import subprocess
import sys
import time
import traceback

from celery import Celery, chain, chord, group, signals
from celery.exceptions import (
    MaxRetriesExceededError,
    TaskRevokedError,
    TimeLimitExceeded,
)
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult, GroupResult
from proj import tasks
from proj.celery import app
from proj.errors import PaymentDeclined
from proj.notes import read

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


def raised(call, expected=None):
    """The type name and message of what ``call`` raises (None if it returns); with
    ``expected``, also whether the caller's ``except expected`` catches it."""
    try:
        call()
    except Exception as exc:
        seen = {"type": type(exc).__name__, "text": str(exc)}
        if expected is not None:
            seen["caught"] = isinstance(exc, expected)
            seen["args"] = [repr(arg) for arg in exc.args]
        return seen
    return None


def within(elapsed, low, high):
    return low <= elapsed < high or f"{elapsed:.2f}s outside [{low}, {high})"


@scenario
def worker_startup_signals():
    """The worker's start-up signals, in its main process and its pool's children."""
    life = read("life")
    main = next(pid for name, sender, pid in life if name == "celeryd_init" and "w1@" in sender)
    ours = [(name, sender) for name, sender, pid in life if pid == main]
    return {
        "main_process": [name for name, _ in ours],
        "hostnames": sorted({sender for _, sender in ours if sender}),
        "pool_children": sum(1 for name, _ in ours if name == "worker_process_init"),
    }


class DjangoSettings:
    """A Django settings module's Celery part: ``CELERY_``-prefixed upper-case names."""

    CELERY_TASK_DEFAULT_QUEUE = "dj"
    CELERY_RESULT_EXPIRES = 600
    CELERY_TASK_ACKS_LATE = True
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 7200}
    CELERY_TIMEZONE = "Europe/Paris"
    CELERY_TASK_TIME_LIMIT = 30
    DEBUG = True  # Django's own: not Celery's


class OldNames:
    """Celery 3's upper-case setting names, still read by Celery 5."""

    CELERY_ALWAYS_EAGER = True
    CELERYD_CONCURRENCY = 3
    CELERY_DEFAULT_QUEUE = "legacy"


SETTINGS = [
    "task_default_queue",
    "result_expires",
    "task_acks_late",
    "broker_transport_options",
    "timezone",
    "enable_utc",
    "task_time_limit",
    "task_serializer",
    "accept_content",
    "worker_prefetch_multiplier",
    "task_always_eager",
    "worker_concurrency",
    "result_extended",
]


@scenario
def settings_and_namespaces():
    """Settings from an object with the CELERY namespace, Celery 3 upper-case names, conf.update."""
    django = Celery("dj", set_as_current=False)
    django.config_from_object(DjangoSettings, namespace="CELERY")
    old = Celery("old", set_as_current=False)
    old.config_from_object(OldNames)
    updated = Celery("upd", set_as_current=False)
    updated.conf.update(task_default_queue="updated", result_expires=30)
    return {
        name: {key: repr(each.conf[key]) for key in SETTINGS}
        for name, each in (("project", app), ("django", django), ("old", old), ("updated", updated))
    }


@scenario
def autodiscovered_tasks():
    """autodiscover_tasks() with a related_name finds a package's task module."""
    return {
        "registered": "proj.extra.jobs.triple" in app.tasks,
        "value": app.send_task("proj.extra.jobs.triple", args=(3,)).get(timeout=10),
    }


@scenario
def delay_and_get():
    """delay() and get(): value, state, ready, successful."""
    result = tasks.add.delay(2, 3)
    value = result.get(timeout=10)
    return {
        "value": value,
        "wait": result.wait(timeout=10),
        "state": result.state,
        "status": result.status,
        "ready": result.ready(),
        "successful": result.successful(),
        "failed": result.failed(),
        "result": result.result,
        "info": result.info,
        "repr": repr(result).replace(result.id, "ID"),
        "id_is_str": isinstance(result.id, str),
    }


@scenario
def apply_async_options():
    """apply_async with args, kwargs and a chosen task_id."""
    chosen = app.AsyncResult("chosen-id-0001")
    result = tasks.add.apply_async(args=(1,), kwargs={"y": 4}, task_id=chosen.id)
    return {"value": result.get(timeout=10), "same_id": result.id == chosen.id}


@scenario
def shared_task_and_names():
    """shared_task, and task names by default and by name=."""
    return {
        "shared": tasks.mul.delay(6, 7).get(timeout=10),
        "names": [tasks.add.name, tasks.mul.name, tasks.named.name],
        "custom_name": tasks.named.delay().get(timeout=10),
    }


@scenario
def send_task_by_name():
    """send_task by name, without importing the task."""
    result = app.send_task("proj.tasks.add", args=(10, 5))
    return {"value": result.get(timeout=10), "name": result.name}


@scenario
def request_fields():
    """What a task sees in self.request: id, args, kwargs, custom headers, delivery info."""
    result = tasks.whoami.apply_async((1, 2), {"k": "v"}, headers={"x_tenant": "acme"})
    return result.get(timeout=10)


@scenario
def result_extended_fields():
    """result_extended: name, args, kwargs, worker, queue, retries, date_done."""
    result = tasks.add.delay(3, 4)
    result.get(timeout=10)
    done = result.date_done
    return {
        "name": result.name,
        "args": list(result.args),
        "kwargs": result.kwargs,
        "queue": result.queue,
        "retries": result.retries,
        "date_done_type": type(done).__name__,
        "date_done_aware": getattr(done, "tzinfo", None) is not None,
        "date_done_recent": isinstance(done, dt.datetime)
        and abs((dt.datetime.now(dt.timezone.utc) - done).total_seconds()) < 60,
    }


@scenario
def failure_propagates():
    """A failure raises in get(), or is returned with propagate=False; traceback kept."""
    result = tasks.fail.delay("boom")
    error = raised(lambda: result.get(timeout=10))
    quiet = result.get(timeout=10, propagate=False)
    return {
        "raised": error,
        "state": result.state,
        "failed": result.failed(),
        "successful": result.successful(),
        "ready": result.ready(),
        "result": {"type": type(quiet).__name__, "text": str(quiet), "args": list(quiet.args)},
        "traceback_names_error": "ValueError: boom" in (result.traceback or ""),
    }


@scenario
def custom_exception():
    """A custom exception reaches the caller as its own class, with its message."""
    result = tasks.declined.delay(42)
    return raised(lambda: result.get(timeout=10), PaymentDeclined)


@scenario
def retry_then_succeed():
    """self.retry() until the task succeeds; retries counted."""
    result = tasks.flaky.delay(2)
    value = result.get(timeout=15)
    return {"value": value, "state": result.state, "retries": result.retries}


@scenario
def max_retries_exceeded():
    """Retrying past max_retries raises MaxRetriesExceededError."""
    result = tasks.always_retry.delay()
    error = raised(lambda: result.get(timeout=15), MaxRetriesExceededError)
    return {"raised": error, "state": result.state}


@scenario
def retry_with_exc():
    """retry(exc=...) past max_retries raises that exception."""
    result = tasks.retry_with_exc.delay()
    return {"raised": raised(lambda: result.get(timeout=15)), "state": result.state}


@scenario
def retry_with_new_args():
    """retry(args=...) runs again with new arguments."""
    return {"value": tasks.retry_new_args.delay(7).get(timeout=15)}


@scenario
def autoretry_backoff():
    """autoretry_for with retry_backoff: the retries' spacing and the final error."""
    result = tasks.backoff.delay()
    started = time.monotonic()
    error = raised(lambda: result.get(timeout=20))
    elapsed = time.monotonic() - started
    attempts = read(f"attempts:{result.id}")
    gaps = [round(b - a) for a, b in itertools.pairwise(attempts)]
    return {
        "raised": error,
        "state": result.state,
        "attempts": len(attempts),
        "gaps_rounded": gaps,
        "elapsed": within(elapsed, 2.8, 6.0),
    }


@scenario
def countdown_window():
    """countdown: PENDING first, runs no earlier than asked."""
    started = time.monotonic()
    result = tasks.add.apply_async((1, 1), countdown=1.5)
    early = result.state
    result.get(timeout=10)
    return {"state_before": early, "elapsed": within(time.monotonic() - started, 1.4, 3.5)}


@scenario
def eta_aware_window():
    """eta as an aware datetime: runs no earlier than asked."""
    started = time.monotonic()
    eta = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1.5)
    tasks.add.apply_async((1, 1), eta=eta).get(timeout=10)
    return {"elapsed": within(time.monotonic() - started, 1.4, 3.5)}


@scenario
def eta_naive_is_utc():
    """A naive eta is read as UTC."""
    started = time.monotonic()
    eta = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=1.5)
    tasks.add.apply_async((1, 1), eta=eta).get(timeout=10)
    return {"elapsed": within(time.monotonic() - started, 1.4, 3.5)}


@scenario
def expires_before_run():
    """A task that expires before it runs is revoked (TaskRevokedError)."""
    result = tasks.add.apply_async((1, 1), countdown=1.5, expires=0.5)
    error = raised(lambda: result.get(timeout=10))
    return {
        "raised_type": error and error["type"],
        "state": result.state,
        "signals": read(f"signals:{result.id}"),
    }


@scenario
def expired_datetime():
    """expires in the past, as a datetime: never runs."""
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30)
    result = tasks.add.apply_async((1, 1), expires=past)
    error = raised(lambda: result.get(timeout=10))
    return {"raised_type": error and error["type"], "state": result.state}


@scenario
def revoke_before_run():
    """revoke() before a delayed task runs: it never runs, get() raises TaskRevokedError."""
    result = tasks.sleepy.apply_async((0,), countdown=1.5)
    time.sleep(0.3)
    result.revoke()
    caught = raised(lambda: result.get(timeout=10), TaskRevokedError)
    by_control = tasks.sleepy.apply_async((0,), countdown=1.5)
    time.sleep(0.3)
    app.control.revoke(by_control.id)
    error = raised(lambda: by_control.get(timeout=10))
    return {
        "caught": caught,
        "state": result.state,
        "by_control": {"raised_type": error and error["type"], "state": by_control.state},
    }


@scenario
def revoke_terminate():
    """revoke(terminate=True) stops a running task."""
    result = tasks.sleepy.delay(5)
    wait_for(lambda: "task_prerun:proj.tasks.sleepy:[5]" in read(f"signals:{result.id}"))
    started = time.monotonic()
    result.revoke(terminate=True)
    error = raised(lambda: result.get(timeout=10))
    killed = tasks.sleepy.delay(6)
    wait_for(lambda: "task_prerun:proj.tasks.sleepy:[6]" in read(f"signals:{killed.id}"))
    killed.revoke(terminate=True, signal="SIGKILL")
    by_kill = raised(lambda: killed.get(timeout=10))
    return {
        "raised_type": error and error["type"],
        "state": result.state,
        "quick": within(time.monotonic() - started, 0.0, 3.0),
        "sigkill": {"raised_type": by_kill and by_kill["type"], "state": killed.state},
    }


@scenario
def get_timeout():
    """get(timeout=) raises celery.exceptions.TimeoutError, then the value comes."""
    result = tasks.sleepy.delay(2)
    caught = raised(lambda: result.get(timeout=0.3), ResultTimeout)
    return {"caught": caught, "then": result.get(timeout=10)}


@scenario
def unknown_id():
    """AsyncResult of an unknown id: PENDING, not ready."""
    result = AsyncResult("no-such-task-id", app=app)
    return {"state": result.state, "ready": result.ready(), "result": result.result}


@scenario
def forget():
    """forget() drops a stored result."""
    result = tasks.add.delay(1, 1)
    result.get(timeout=10)
    result.forget()
    fresh = app.AsyncResult(result.id)
    return {"state": fresh.state, "result": fresh.result}


@scenario
def update_state_progress():
    """update_state with a custom state and meta, seen by the caller."""
    result = tasks.progress.delay()
    seen = wait_for(lambda: result.state == "PROGRESS" and result.info, timeout=5)
    during = {"state": result.state, "info": seen}
    return {"during": during, "value": result.get(timeout=10), "after": result.state}


@scenario
def track_started():
    """task_track_started: the STARTED state is visible while running."""
    result = tasks.tracked.delay(1)
    started = wait_for(lambda: result.state == "STARTED", timeout=5)
    return {"saw_started": bool(started), "value": result.get(timeout=10)}


@scenario
def ignore_leaves_pending():
    """Raising Ignore leaves the task PENDING."""
    result = tasks.ignored.delay()
    time.sleep(1)
    return {"state": result.state, "ready": result.ready()}


@scenario
def reject_is_a_failure():
    """Raising Reject(requeue=False) is a failure the caller sees."""
    result = tasks.rejected.delay()
    error = raised(lambda: result.get(timeout=10))
    return {"raised": error, "state": result.state, "ready": result.ready()}


@scenario
def ignore_result_option():
    """ignore_result (task option and call option): no result stored."""
    tasks.fire_and_forget.delay("faf")
    wait_for(lambda: read("faf"))
    quiet = tasks.add.apply_async((1, 1), ignore_result=True)
    time.sleep(0.5)
    return {"ran": read("faf"), "state": quiet.state}


@scenario
def soft_time_limit():
    """soft_time_limit: SoftTimeLimitExceeded raised inside the task, which may clean up."""
    return {"value": tasks.soft_limited.delay().get(timeout=10)}


@scenario
def hard_time_limit():
    """time_limit: the task is stopped, the caller gets TimeLimitExceeded."""
    result = tasks.hard_limited.delay()
    caught = raised(lambda: result.get(timeout=15), TimeLimitExceeded)
    return {"caught": caught, "state": result.state}


@scenario
def hard_time_limit_callbacks():
    """A task its hard time limit stops still gets its errback, hooks and signal."""
    result = tasks.audited_slow.apply_async(link_error=tasks.on_error.s())
    raised(lambda: result.get(timeout=15))
    time.sleep(1)  # let every callback report (Celery 5.7 reports some twice)
    hooks = read(f"hooks:{result.id}")
    heard = _settled(f"signals:{result.id}", 0)
    errback = read(f"errback:{result.id}")
    return {
        "hooks": [":".join(note.split(":")[:2]) for note in hooks or []],  # not the text
        "signals": heard and [":".join(note.split(":")[:2]) for note in heard["in_order"]],
        "errback": [{"task": e["task"], "type": e["type"]} for e in errback or []],
    }


@scenario
def routing():
    """Routing: queue= on the call, task_routes by name and by glob."""
    return {
        "explicit_queue": tasks.whoami.apply_async(queue="other").get(timeout=10)["routing_key"],
        "task_routes": tasks.routed.delay().get(timeout=10),
        "glob_route": tasks.glob_routed.delay().get(timeout=10),
        "default": tasks.whoami.delay().get(timeout=10)["routing_key"],
    }


@scenario
def link_callback():
    """link: the callback gets the result."""
    result = tasks.add.apply_async((2, 2), link=tasks.record.s("linked"))
    value = result.get(timeout=10)
    return {"value": value, "callback_got": wait_for(lambda: read("linked"))}


@scenario
def link_error_callback():
    """link_error: the errback gets the request and the error."""
    result = tasks.fail.apply_async(("bad input",), link_error=tasks.on_error.s())
    raised(lambda: result.get(timeout=10))
    return {"errback_got": wait_for(lambda: read(f"errback:{result.id}"))}


@scenario
def children_recorded():
    """Tasks sent by a task are its children on the result."""
    result = tasks.spawner.delay()
    child_id = result.get(timeout=10)
    children = result.children or []
    return {
        "children": [child.id == child_id for child in children],
        "child_value": children[0].get(timeout=10) if children else None,
    }


@scenario
def get_inside_task():
    """get() inside a task is refused (RuntimeError), unless allowed."""
    result = tasks.waits_inside.delay()
    allowed = tasks.waits_allowed.delay()
    return {
        "raised": raised(lambda: result.get(timeout=10)),
        "allowed": allowed.get(timeout=10),
    }


@scenario
def retry_state_and_info():
    """While waiting to retry: state RETRY, info holds the error."""
    result = tasks.slow_retry.delay()
    seen = wait_for(lambda: result.state == "RETRY", timeout=5)
    info = result.info
    return {
        "saw_retry": bool(seen),
        "info": {"type": type(info).__name__, "text": str(info)},
        "value": result.get(timeout=10),
    }


@scenario
def call_time_limits():
    """time_limit and soft_time_limit given on the call."""
    hard = tasks.sleepy.apply_async((3,), time_limit=1)
    soft = tasks.soft_limited.apply_async(soft_time_limit=0.5)
    return {
        "hard": raised(lambda: hard.get(timeout=10)),
        "hard_state": hard.state,
        "soft": soft.get(timeout=10),
    }


@scenario
def expires_in_the_future():
    """expires in the future: the task runs."""
    return {"value": tasks.add.apply_async((2, 2), expires=30).get(timeout=10)}


@scenario
def signature_calls():
    """Signatures: s(), partial arguments, delay, apply_async, options."""
    return {
        "s_delay": tasks.add.s(2, 3).delay().get(timeout=10),
        "partial": tasks.add.s(2).delay(5).get(timeout=10),
        "apply_async": tasks.add.s(1, 1).apply_async(countdown=0.1).get(timeout=10),
        "si": tasks.add.si(4, 4).delay().get(timeout=10),
    }


@scenario
def shadow_name():
    """shadow= renames the task in what the worker reports."""
    result = tasks.whoami.apply_async(shadow="friendly.whoami")
    fields = result.get(timeout=10)
    return {"task": fields["task"], "shadow": fields["shadow"], "result_name": result.name}


@scenario
def priority_order():
    """Messages waiting on a queue run in Celery's Redis order: 0 first, 9 last."""
    for priority in (9, 0, 6, 3, 0, 9, 5):
        tasks.record.apply_async((priority, "prio"), queue="prio", priority=priority)
    argv = [os.environ["COMPAT_PROGRAM"], "-A", "proj", "worker", "-Q", "prio", "-c", "1"]
    argv += ["-P", "solo", "-n", "prio@%h", "--prefetch-multiplier", "1", "-l", "WARNING"]
    argv += ["--logfile", os.environ["COMPAT_WORKER_LOG"] + ".prio"]
    worker = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        order = wait_for(lambda: len(read("prio")) == 7 and read("prio"), timeout=30)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    return {"order": order}


@scenario
def rate_limit():
    """rate_limit spaces the runs of a task."""
    started = time.monotonic()
    for _ in range(4):
        tasks.limited.delay("limited")
    wait_for(lambda: len(read("limited")) == 4, timeout=10)
    return {"ran": len(read("limited")), "elapsed": within(time.monotonic() - started, 1.2, 5.0)}


@scenario
def task_signals_success():
    """task_prerun, task_postrun, task_success (and their senders) in order."""
    result = tasks.add.delay(5, 6)
    result.get(timeout=10)
    return wait_for(lambda: _settled(f"signals:{result.id}", 4))


@scenario
def task_signals_failure():
    """task_failure and task_postrun on a failure."""
    result = tasks.fail.delay("signal boom")
    raised(lambda: result.get(timeout=10))
    return wait_for(lambda: _settled(f"signals:{result.id}", 4))


@scenario
def task_signals_retry():
    """task_retry on each retry."""
    result = tasks.flaky.delay(1)
    result.get(timeout=10)
    return wait_for(lambda: _settled(f"signals:{result.id}", 8))


def _settled(key, count):
    """The signals heard for a task once ``count`` have come: ``task_received`` (sent in
    the worker's main process, racing the child's) counted, the others in order."""
    notes = read(key)
    if len(notes) < count:
        return None
    received = notes.count("task_received")
    return {"received": received, "in_order": [n for n in notes if n != "task_received"]}


@scenario
def task_unknown():
    """An unregistered task name: task_unknown in the worker, the caller's get() fails."""
    result = app.send_task("proj.tasks.not_there", args=(1,))
    heard = wait_for(lambda: read(f"unknown:{result.id}"), timeout=5)
    error = raised(lambda: result.get(timeout=10))
    return {"heard": heard, "raised": error, "state": result.state}


@scenario
def base_class_hooks():
    """A custom Task base class: on_success, on_failure, after_return, before_start."""
    good = tasks.audited.delay(False)
    good.get(timeout=10)
    bad = tasks.audited.delay(True)
    raised(lambda: bad.get(timeout=10))
    return {
        "success": wait_for(
            lambda: len(read(f"hooks:{good.id}")) >= 5 and read(f"hooks:{good.id}")
        ),
        "failure": wait_for(lambda: len(read(f"hooks:{bad.id}")) >= 5 and read(f"hooks:{bad.id}")),
    }


@scenario
def publish_signals():
    """before_task_publish (may add headers) and after_task_publish in the caller."""
    heard = []

    def before(sender=None, body=None, exchange=None, routing_key=None, headers=None, **kw):
        heard.append(["before", sender, routing_key, headers["task"], list(body[0])])

    def after(sender=None, body=None, exchange=None, routing_key=None, **kw):
        heard.append(["after", sender, routing_key])

    signals.before_task_publish.connect(before)
    signals.after_task_publish.connect(after)
    try:
        tasks.add.delay(8, 9).get(timeout=10)
    finally:
        signals.before_task_publish.disconnect(before)
        signals.after_task_publish.disconnect(after)
    return heard


@scenario
def task_logger_line():
    """get_task_logger lines carry the task's name and id, in Celery's format."""
    result = tasks.logs.delay("hello")
    result.get(timeout=10)
    path = os.environ["COMPAT_WORKER_LOG"]

    def lines():
        with open(path) as log:
            return [line for line in log if result.id in line]

    found = wait_for(lambda: len(lines()) >= 3, timeout=5) and lines()
    wanted = {
        "received": f"Task proj.tasks.logs[{result.id}] received",
        "logged": f"proj.tasks.logs[{result.id}]: said hello",
        "succeeded": f"Task proj.tasks.logs[{result.id}] succeeded in",
    }
    return {key: any(text in line for line in found) for key, text in wanted.items()}


# -- canvas -----------------------------------------------------------------------------


def _lineage(result):
    """A result's type and those of its parents, nearest first."""
    kinds = []
    while result is not None:
        kinds.append(type(result).__name__)
        result = result.parent
    return kinds


@scenario
def canvas_chain():
    """chain and |: the value, the parents' results."""
    result = (tasks.add.s(1, 2) | tasks.add.s(3) | tasks.mul.s(10)).apply_async()
    return {
        "value": result.get(timeout=10),
        "parents": [result.parent.get(timeout=10), result.parent.parent.get(timeout=10)],
        "lineage": _lineage(result),
        "type": type(tasks.add.s(1, 2) | tasks.add.s(3)).__name__,
    }


@scenario
def canvas_chain_failure():
    """A failing chain step: later steps fail with its error, errbacks called."""
    workflow = chain(
        tasks.add.s(1, 2),
        tasks.boom.s(),
        tasks.add.s(5).on_error(tasks.old_errback.s()),
        tasks.add.s(6),
    )
    workflow.link_error(tasks.on_error.s())
    result = workflow.apply_async()
    caught = raised(lambda: result.get(timeout=10))
    time.sleep(0.5)
    steps = [result, result.parent, result.parent.parent, result.parent.parent.parent]
    failed = steps[2]
    return {
        "raised": caught,
        "states": [step.state for step in steps],
        "results": [repr(step.result) for step in steps],
        "errback": wait_for(lambda: read(f"errback:{failed.id}")),
        "later_step_errbacks": [read(f"old_errback:{step.id}") for step in steps],
        "other_errbacks": [read(f"errback:{step.id}") for step in steps if step is not failed],
    }


@scenario
def canvas_immutable_and_options():
    """Immutable signatures (si), options on a chain, a chosen task_id."""
    task_id = AsyncResult(str(__import__("uuid").uuid4())).id
    placed = chain(tasks.add.s(2), tasks.mul.s(3)).apply_async((1,), task_id=task_id)
    return {
        "si": chain(tasks.add.s(1, 2), tasks.add.si(10, 10), tasks.add.s(1)).delay().get(10),
        "args_to_first": placed.get(timeout=10),
        "task_id_is_last": placed.id == task_id,
        "quiet_step_passes_value": chain(tasks.add.s(1, 2), tasks.quiet_double.s(), tasks.add.s(1))
        .delay()
        .get(timeout=10),
        "flattened": [
            (chain(tasks.add.s(1, 1), tasks.add.s(2)) | chain(tasks.add.s(3), tasks.add.s(4)))
            .delay()
            .get(timeout=10),
            (tasks.add.s(1, 1) | (tasks.add.s(2) | tasks.add.s(3))).delay().get(timeout=10),
            chain(tasks.add.s(1, 1)).delay().get(timeout=10),
        ],
    }


@scenario
def canvas_countdown_in_chain():
    """A later step's countdown counts from the end of the step before it."""
    started = time.monotonic()
    later = tasks.echo_after.s(0).set(countdown=1)
    result = chain(tasks.echo_after.s(1, 0.5), later).apply_async()
    value = result.get(timeout=10)
    return {"value": value, "window": within(time.monotonic() - started, 1.4, 2.5)}


@scenario
def canvas_replace():
    """self.replace() with a signature, a chain and a group."""
    in_chain = chain(tasks.add.s(1, 1), tasks.replaced.s(), tasks.add.s(1)).apply_async()
    direct = tasks.replaced.delay(3)
    fanned = tasks.replaced_by_group.delay(3)
    return {
        "chain": [in_chain.get(timeout=10), in_chain.parent.get(timeout=10)],
        "direct": [direct.get(timeout=10), direct.state, direct.name],
        "group": fanned.get(timeout=10),
    }


@scenario
def canvas_group():
    """group: values in order, waiting/ready/completed_count while it runs."""
    result = group(tasks.echo_after.s(i, 0.1 * (3 - i)) for i in range(4)).apply_async()
    waiting_at_first = result.waiting()
    values = result.get(timeout=10)
    seen = []
    result.join(callback=lambda task_id, value: seen.append(value), timeout=10)
    return {
        "type": type(result).__name__,
        "values": values,
        "join": result.join(timeout=10),
        "waiting_at_first": waiting_at_first,
        "api": [
            len(result), result.ready(), result.successful(), result.failed(),
            result.waiting(), result.completed_count(),
        ],
        "iterated": [r.get(timeout=10) for r in result],
        "indexed": result[1].get(timeout=10),
        "callback_values": seen,
        "repr_start": repr(result).startswith(f"<GroupResult: {result.id} ["),
    }  # fmt: skip


@scenario
def canvas_group_failure():
    """A failing group member: get() raises, the others still run."""
    result = group(tasks.add.s(1, 1), tasks.boom.s(2)).apply_async()
    caught = raised(lambda: result.get(timeout=10))
    time.sleep(0.3)
    return {
        "raised": caught,
        "join": [repr(v) for v in result.join(propagate=False, timeout=10)],
        "api": [result.completed_count(), result.successful(), result.failed(), result.ready()],
    }


@scenario
def canvas_group_shapes():
    """Group shapes: partial arguments, nested groups, an empty group, a saved GroupResult."""
    member = tasks.member.s()
    members = group(member, member).apply_async().get(timeout=10)
    return {
        "partial": group(tasks.add.s(1), tasks.add.s(2)).apply_async((10,)).get(timeout=10),
        "nested": group(group(tasks.add.s(1, 1), tasks.add.s(2, 2)), tasks.add.s(3, 3))
        .apply_async()
        .get(timeout=10),
        "empty": group([]).apply_async().get(timeout=10),
        "members": members,
        "saved": _saved_group(),
    }


def _saved_group():
    result = group(tasks.add.s(i, i) for i in range(3)).apply_async()
    result.get(timeout=10)
    result.save()
    restored = GroupResult.restore(result.id)
    return {
        "restored": restored is not None and restored.id == result.id,
        "values": restored.get(timeout=10) if restored else None,
    }


@scenario
def canvas_chord():
    """chord(header)(body) and chord(header, body): the body gets the header's values in order."""
    header = [tasks.echo_after.s(i, 0.1 * (3 - i)) for i in range(4)]
    called = chord(header)(tasks.tsum.s())
    given = chord(header, tasks.tsum.s()).apply_async()
    piped = (group(header) | tasks.tsum.s()).apply_async()
    members = chord([tasks.member.s(), tasks.member.s()], tasks.tsum.si([1])).apply_async()
    members.get(timeout=10)
    return {
        "values": [called.get(timeout=10), given.get(timeout=10), piped.get(timeout=10)],
        "header": called.parent.get(timeout=10),
        "lineage": _lineage(called),
        "pipe_type": type(group(header) | tasks.tsum.s()).__name__,
        "members": members.parent.get(timeout=10),
        "empty_header": chord([], tasks.tsum.s()).apply_async().get(timeout=10),
    }


@scenario
def canvas_chord_failure():
    """A failing chord header: the body fails with ChordError, its errbacks are called."""
    body = tasks.tsum.s()
    body.link_error(tasks.on_error.s())
    body.link_error(tasks.old_errback.s())
    result = chord([tasks.add.s(1, 1), tasks.boom.s(2), tasks.add.s(3, 3)], body).apply_async()
    caught = raised(lambda: result.get(timeout=10))
    wait_for(result.ready)
    after = chain(chord([tasks.boom.s(1), tasks.add.s(1, 1)], tasks.tsum.s()), tasks.add.s(1))
    after_result = after.apply_async()
    return {
        "raised": caught,
        "state": result.state,
        "result": {"type": type(result.result).__name__, "text": str(result.result)},
        "errback": wait_for(lambda: read(f"errback:{result.id}")),
        "old_errback": wait_for(lambda: read(f"old_errback:{result.id}")),
        "then_task": raised(lambda: after_result.get(timeout=10)),
        "then_task_result": wait_for(after_result.ready) and repr(after_result.result),
    }


@scenario
def canvas_groups_in_chains():
    """A group in the middle and at the end of a chain (chords made of it)."""
    middle = chain(tasks.add.s(1, 1), group(tasks.add.s(1), tasks.add.s(2)), tasks.tsum.s())
    end = chain(tasks.add.s(1, 1), group(tasks.add.s(1), tasks.add.s(2))).apply_async()
    twice = group(tasks.add.s(1, 1), tasks.add.s(2, 2)) | group(tasks.tsum.s(), tasks.tsum.s())
    return {
        "middle": middle.apply_async().get(timeout=10),
        "end": [type(end).__name__, end.get(timeout=10), end.parent.get(timeout=10)],
        "group_then_group": twice.apply_async().get(timeout=10),
    }


@scenario
def canvas_map_and_chunks():
    """map, starmap and chunks (also as a group), and a failing map."""
    parts = tasks.add.chunks(zip(range(10), range(10), strict=True), 3)
    chunked = parts.apply_async()
    return {
        "map": tasks.quiet_double.map([1, 2, 3]).apply_async().get(timeout=10),
        "starmap": tasks.mul.starmap([(1, 2), (3, 4)]).apply_async().get(timeout=10),
        "chunks": [type(parts).__name__, type(chunked).__name__, chunked.get(timeout=10)],
        "chunks_group": parts.group().apply_async().get(timeout=10),
        "map_failure": raised(lambda: tasks.boom.map([1, 2]).apply_async().get(timeout=10)),
        # one failing part: with several, Celery's Redis backend raises whichever
        # failure arrives first (celeriac: the first in the group's order)
        "chunks_failure": raised(
            lambda: tasks.boom.chunks([(1,), (2,)], 2).apply_async().get(timeout=10)
        ),
    }


@scenario
def canvas_freeze():
    """freeze() gives the ids the workflow will use."""
    workflow = chain(tasks.add.s(1, 1), tasks.add.s(1))
    frozen = workflow.freeze()
    grouped = group(tasks.add.s(1, 1), tasks.add.s(2, 2))
    frozen_group = grouped.freeze()
    with_body = chord([tasks.add.s(1, 1)], tasks.tsum.s())
    frozen_chord = with_body.freeze()
    sent = [workflow.apply_async(), grouped.apply_async(), with_body.apply_async()]
    return {
        "chain": [sent[0].id == frozen.id, sent[0].parent.id == frozen.parent.id],
        "group": [sent[1].id == frozen_group.id, [r.id for r in sent[1]] == [
            r.id for r in frozen_group
        ]],
        "chord": [sent[2].id == frozen_chord.id, sent[2].get(timeout=10)],
    }  # fmt: skip


@scenario
def canvas_revoked_step():
    """Celery never sends the steps after a revoked one: they stay PENDING for ever."""
    result = chain(tasks.add.si(1, 1).set(countdown=30), tasks.add.s(1)).apply_async()
    result.parent.revoke()
    time.sleep(1.5)
    return {"first": result.parent.state, "second": result.state}


@scenario
def canvas_failure_before_a_group():
    """A failure before a group in a chain: the chord's body and get()."""
    result = chain(tasks.boom.s(1), group(tasks.add.s(1), tasks.add.s(2)), tasks.tsum.s())
    result = result.apply_async()
    caught = raised(lambda: result.get(timeout=10))
    time.sleep(0.5)
    return {
        "raised": caught,
        "last": [result.state, type(result.result).__name__],
        "members": [r.state for r in result.parent.results],
    }


def main(names):
    chosen = names or list(SCENARIOS)
    seen = {}
    for name in chosen:
        started = time.monotonic()
        try:
            seen[name] = SCENARIOS[name]()
        except Exception:
            seen[name] = {"scenario_error": traceback.format_exc()}
        print(f"{name}: {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)
    # task ids differ between runs: a message naming one shows it as <id>
    text = json.dumps(seen, sort_keys=True, default=repr)
    print(re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text))


if __name__ == "__main__":
    main(sys.argv[1:])
