"""Mixed fleets: Celery's wire protocol (version 2) on kombu's Redis transport, so that
Celery and celeriac processes share work during a gradual migration.

In: a celeriac worker started with ``--celery-queues q1,q2`` (setting
``celeriac_celery_queues``) also reads those queues as Celery writes them (kombu's list
per queue and priority, with its unacked bookkeeping). Each message becomes a celeriac
task of the same id in the celeriac queue of the same name (which the worker then
consumes), and is acknowledged to kombu once that is stored, so none is lost between
the two. When the task ends, its result is written where Celery's Redis result backend
keeps it (``celery-task-meta-<id>``, published on the key's channel too), so the Celery
caller's ``AsyncResult.get()`` returns it, or raises its exception; the rest of a
Celery chain, the ``link`` callbacks and the errbacks are then sent on as Celery
messages (a Celery worker, or this bridge again, runs them), and a chord's header task
adds its result to the chord in Celery's backend, the last one sending the body.

Out: ``app.conf.celeriac_celery_tasks`` names the tasks Celery workers run: a call of
one is sent as a Celery protocol 2 message on kombu's transport, and so is any
workflow (chain, group, chord) with one of them in it, all of its steps in Celery's
shape (:func:`send_workflow`), the steps celeriac runs reaching it through the bridge.
Their results are read from Celery's backend; ``app.AsyncResult(id)`` reads both.

Revoking reaches both sides through Celery's remote control mailbox (control.py).

What cannot be run here is never dropped silently: a message that is not Celery
protocol 2 (protocol 1, another producer's), whose content type or body cannot be
decoded, or that names a task this app does not have, is logged and moved to the Redis
list ``celeriac.celery-dead.<queue>`` (a JSON record: the reason, the queue, and the
message as kombu stored it), from where it can be inspected or pushed back.

Broker and backend: kombu connects to ``celeriac_celery_broker_url`` (default: the
app's ``broker_url``, which in a migrating project is Celery's); results go to
``celeriac_celery_result_backend`` (default: ``result_backend`` when it is a Redis URL,
else the broker).
"""

from __future__ import annotations

from .answers import answer, call_errback
from .consumer import CeleryConsumer, dead_letter_key
from .control import ControlNode, revoke_in_celery
from .messages import Foreign, from_celery, goes_to_celery, send_to_celery
from .results import (
    CeleryResult,
    EitherResult,
    celery_meta,
    read_result,
    started,
    store_result,
    store_state,
    to_record,
)
from .workflows import celery_bound, send_workflow

__all__ = [
    "CeleryConsumer",
    "CeleryResult",
    "ControlNode",
    "EitherResult",
    "Foreign",
    "answer",
    "call_errback",
    "celery_bound",
    "celery_meta",
    "dead_letter_key",
    "from_celery",
    "goes_to_celery",
    "read_result",
    "revoke_in_celery",
    "send_to_celery",
    "send_workflow",
    "started",
    "store_result",
    "store_state",
    "to_record",
]
