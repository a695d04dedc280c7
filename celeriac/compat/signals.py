"""Celery's signals (``celeriac.signals``), with Celery's names, senders and arguments.

Receivers are called with ``signal=``, ``sender=`` and the signal's keyword arguments;
connect them with ``@task_prerun.connect`` or ``task_prerun.connect(fn, sender=...)``.
A receiver connected with a ``sender`` only hears that sender (the same object, or an
equal string). Receivers are held by weak reference unless ``weak=False``. A receiver
that raises is logged; the others still run, and the sender carries on.

================================  =============================  ==========================
signal                            sender                         keyword arguments
================================  =============================  ==========================
before_task_publish               task name                      body, exchange,
                                                                 routing_key, headers,
                                                                 properties, declare,
                                                                 retry_policy
after_task_publish                task name                      body, exchange, routing_key
task_received                     the worker                     request
task_prerun                       the task                       task_id, task, args, kwargs
task_postrun                      the task                       task_id, task, args,
                                                                 kwargs, retval, state
task_success                      the task                       result
task_retry                        the task                       request, reason, einfo
task_failure                      the task                       task_id, exception, args,
                                                                 kwargs, traceback, einfo
task_revoked                      the task                       request, terminated,
                                                                 signum, expired
task_unknown                      the worker                     name, id, message, exc
task_rejected                     the worker                     message, exc
celeryd_init                      node name                      instance, conf, options
celeryd_after_setup               node name                      instance, conf
worker_init / worker_ready /      the worker                     —
worker_shutdown
worker_process_init               —                              —
setup_logging                     —                              loglevel, logfile,
                                                                 format, colorize
after_setup_logger /              —                              logger, loglevel, logfile,
after_setup_task_logger                                          format, colorize
beat_init / beat_embedded_init    the scheduler                  —
================================  =============================  ==========================
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "Signal",
    "after_setup_logger",
    "after_setup_task_logger",
    "after_task_publish",
    "beat_embedded_init",
    "beat_init",
    "before_task_publish",
    "celeryd_after_setup",
    "celeryd_init",
    "heartbeat_sent",
    "import_modules",
    "setup_logging",
    "task_failure",
    "task_internal_error",
    "task_postrun",
    "task_prerun",
    "task_received",
    "task_rejected",
    "task_retry",
    "task_revoked",
    "task_success",
    "task_unknown",
    "worker_before_create_process",
    "worker_init",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
    "worker_shutting_down",
]

logger = logging.getLogger("celeriac.signals")

Receiver = Callable[..., Any]


def _id(target: Any) -> Any:
    """Identity of a receiver or sender: strings by value, bound methods by their
    instance and function, other objects by ``id``."""
    if isinstance(target, str | bytes):
        return target
    if hasattr(target, "__func__"):
        return (id(getattr(target, "__self__", None)), id(target.__func__))
    return id(target)


_ANY = _id(None)


class _Entry:
    __slots__ = ("key", "ref", "sender")

    def __init__(self, key: Any, ref: Callable[[], Receiver | None], sender: Any) -> None:
        self.key = key
        self.ref = ref
        self.sender = sender


class Signal:
    """A named signal; receivers ``connect`` to it and ``send`` calls them."""

    def __init__(
        self,
        providing_args: Sequence[str] | None = None,
        use_caching: bool = False,
        name: str | None = None,
    ) -> None:
        self.name = name
        self.providing_args = set(providing_args or ())
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Signal: {self.name or type(self).__name__}>"

    @property
    def receivers(self) -> list[Receiver]:
        """The receivers alive now."""
        return [r for r in (e.ref() for e in self._entries) if r is not None]

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        """Connect a receiver: ``sig.connect(fn, sender=..., weak=..., dispatch_uid=...)``,
        ``@sig.connect`` or ``@sig.connect(sender=...)``; returns the receiver."""
        if args and callable(args[0]):
            return self._connect(args[0], **kwargs)

        def decorate(fn: Receiver) -> Receiver:
            return self._connect(fn, *args, **kwargs)

        return decorate

    def _connect(
        self,
        receiver: Receiver,
        sender: Any = None,
        weak: bool = True,
        dispatch_uid: Any = None,
        retry: bool = False,
    ) -> Receiver:
        key = (dispatch_uid if dispatch_uid else _id(receiver), _id(sender))
        ref = self._reference(receiver) if weak else (lambda: receiver)
        with self._lock:
            if not any(e.key == key for e in self._entries):
                self._entries = [*self._entries, _Entry(key, ref, _id(sender))]
        return receiver

    def _reference(self, receiver: Receiver) -> Callable[[], Receiver | None]:
        if hasattr(receiver, "__self__") and hasattr(receiver, "__func__"):
            return weakref.WeakMethod(receiver, self._forget_dead)
        try:
            return weakref.ref(receiver, self._forget_dead)
        except TypeError:  # not weakly referenceable (a builtin): keep it
            return lambda: receiver

    def _forget_dead(self, _ref: Any) -> None:
        with self._lock:
            self._entries = [e for e in self._entries if e.ref() is not None]

    def disconnect(
        self, receiver: Receiver | None = None, sender: Any = None, dispatch_uid: Any = None
    ) -> bool:
        """Disconnect a receiver; True when one was connected."""
        key = (dispatch_uid if dispatch_uid else _id(receiver), _id(sender))
        with self._lock:
            kept = [e for e in self._entries if e.key != key]
            found = len(kept) != len(self._entries)
            self._entries = kept
        return found

    def has_listeners(self, sender: Any = None) -> bool:
        return bool(self._live(sender))

    def _live(self, sender: Any) -> list[Receiver]:
        entries = self._entries  # replaced, never mutated: safe to read unlocked
        if not entries:
            return []
        wanted = _id(sender)
        found = []
        for entry in entries:
            if entry.sender in (_ANY, wanted):
                receiver = entry.ref()
                if receiver is not None:
                    found.append(receiver)
        return found

    def send(self, sender: Any, **named: Any) -> list[tuple[Receiver, Any]]:
        """Call the receivers for ``sender``: ``[(receiver, response), ...]``; one
        that raises is logged and its exception stands as its response."""
        if not self._entries:
            return []
        responses: list[tuple[Receiver, Any]] = []
        for receiver in self._live(sender):
            try:
                responses.append((receiver, receiver(signal=self, sender=sender, **named)))
            except Exception as exc:
                logger.exception("Signal handler %r raised: %r", receiver, exc)
                responses.append((receiver, exc))
        return responses

    send_robust = send


before_task_publish = Signal(name="before_task_publish")
after_task_publish = Signal(name="after_task_publish")
task_received = Signal(name="task_received")
task_prerun = Signal(name="task_prerun")
task_postrun = Signal(name="task_postrun")
task_success = Signal(name="task_success")
task_retry = Signal(name="task_retry")
task_failure = Signal(name="task_failure")
task_internal_error = Signal(name="task_internal_error")
task_revoked = Signal(name="task_revoked")
task_rejected = Signal(name="task_rejected")
task_unknown = Signal(name="task_unknown")
celeryd_init = Signal(name="celeryd_init")
celeryd_after_setup = Signal(name="celeryd_after_setup")
import_modules = Signal(name="import_modules")
worker_init = Signal(name="worker_init")
worker_before_create_process = Signal(name="worker_before_create_process")
worker_process_init = Signal(name="worker_process_init")
worker_process_shutdown = Signal(name="worker_process_shutdown")
worker_ready = Signal(name="worker_ready")
worker_shutdown = Signal(name="worker_shutdown")
worker_shutting_down = Signal(name="worker_shutting_down")
heartbeat_sent = Signal(name="heartbeat_sent")
setup_logging = Signal(name="setup_logging")
after_setup_logger = Signal(name="after_setup_logger")
after_setup_task_logger = Signal(name="after_setup_task_logger")
beat_init = Signal(name="beat_init")
beat_embedded_init = Signal(name="beat_embedded_init")
