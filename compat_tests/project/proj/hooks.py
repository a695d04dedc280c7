"""Signal receivers, as a project connects them, leaving notes the checks read back."""

import os

from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    celeryd_init,
    task_failure,
    task_postrun,
    task_prerun,
    task_received,
    task_retry,
    task_revoked,
    task_success,
    task_unknown,
    worker_init,
    worker_process_init,
    worker_ready,
)

from proj.notes import note

WATCHED = {
    "proj.tasks.add",
    "proj.tasks.fail",
    "proj.tasks.flaky",
    "proj.tasks.sleepy",
    "proj.tasks.audited_slow",
}


@task_received.connect
def received(sender=None, request=None, **kwargs):
    if request.name in WATCHED:
        note(f"signals:{request.id}", "task_received")


@task_prerun.connect
def prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **extra):
    if task.name in WATCHED:
        note(f"signals:{task_id}", f"task_prerun:{sender.name}:{list(args)}")


@task_postrun.connect
def postrun(sender=None, task_id=None, task=None, retval=None, state=None, **extra):
    if task.name in WATCHED:
        note(f"signals:{task_id}", f"task_postrun:{state}")


@task_success.connect
def success(sender=None, result=None, **extra):
    if sender.name in WATCHED:
        note(f"signals:{sender.request.id}", f"task_success:{result}")


@task_failure.connect
def failure(sender=None, task_id=None, exception=None, args=None, **extra):
    if sender.name in WATCHED:
        note(f"signals:{task_id}", f"task_failure:{type(exception).__name__}:{exception}")


@task_retry.connect
def retry(sender=None, request=None, reason=None, **extra):
    if sender.name in WATCHED:
        note(f"signals:{request.id}", f"task_retry:{type(reason).__name__}")


@task_revoked.connect
def revoked(sender=None, request=None, terminated=None, expired=None, **extra):
    note(f"signals:{request.id}", f"task_revoked:terminated={terminated}:expired={expired}")


@task_unknown.connect
def unknown(sender=None, name=None, id=None, **extra):
    note(f"unknown:{id}", name)


# -- the worker's life: which signals, in which process ---------------------------------


def _life(name, sender, pid):
    note("life", [name, sender, pid])


@celeryd_init.connect
def _celeryd_init(sender=None, **extra):
    _life("celeryd_init", str(sender), os.getpid())


@after_setup_logger.connect
def _after_setup_logger(logger=None, **extra):
    _life("after_setup_logger", None, os.getpid())


@after_setup_task_logger.connect
def _after_setup_task_logger(logger=None, **extra):
    _life("after_setup_task_logger", None, os.getpid())


@worker_init.connect
def _worker_init(sender=None, **extra):
    _life("worker_init", sender.hostname, os.getpid())


@worker_ready.connect
def _worker_ready(sender=None, **extra):
    _life("worker_ready", sender.hostname, os.getpid())


@worker_process_init.connect
def _worker_process_init(**extra):
    _life("worker_process_init", None, os.getppid())
