"""One run of a Celery-style task, in Celery's order: ``task_prerun``, ``before_start``,
the task, then ``on_success``/``task_success``, or ``on_retry``/``task_retry``, or the
errbacks, ``on_failure``/``task_failure``; ``after_return`` (not for a retry, ignore or
reject) and ``task_postrun`` last. Autoretry (``autoretry_for``) turns an exception
into ``self.retry()`` here.

Hooks and signals run where the task runs (its thread, its child process, or the event
loop for ``async def`` tasks), as in Celery's worker. The outcome itself — the result,
the retry message — is recorded by the core worker once the call returns or raises.
"""

from __future__ import annotations

import inspect
import logging
import random
import traceback as tb
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import signals
from . import states as st
from .exceptions import Ignore, Reject, Retry
from .request import Context

if TYPE_CHECKING:
    from .task import Task

__all__ = ["ExceptionInfo", "Trace", "backoff"]

logger = logging.getLogger("celeriac.worker")


class ExceptionInfo:
    """An exception with its traceback, as hooks receive it (Celery's ``einfo``)."""

    def __init__(self, exc: BaseException) -> None:
        self.exception = exc
        self.type: type[BaseException] = type(exc)
        self.tb: TracebackType | None = exc.__traceback__
        self.traceback = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        self.internal = False

    @property
    def exc_info(self) -> tuple[type[BaseException], BaseException, TracebackType | None]:
        return self.type, self.exception, self.tb

    def __str__(self) -> str:
        return self.traceback

    def __repr__(self) -> str:
        return f"<ExceptionInfo: {self.exception!r}>"


def backoff(factor: float, retries: int, maximum: float, full_jitter: bool) -> int:
    """Celery's exponential backoff: ``factor * 2**retries`` seconds, capped, with full
    jitter drawn from 0 up to that."""
    countdown = int(min(maximum, int(max(1.0, factor)) * 2**retries))
    if full_jitter:
        countdown = random.randrange(countdown + 1)
    return max(0, countdown)


class Trace:
    """Hooks, signals and autoretry around one run of ``task`` (its request pushed)."""

    def __init__(
        self,
        task: Task,
        request: Context,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        eager: bool = False,
    ) -> None:
        self.task = task
        self.request = request
        self.args = args
        self.kwargs = kwargs
        self.eager = eager
        self.state = st.PENDING
        self.retval: Any = None

    @property
    def id(self) -> str:
        return self.request.id or ""

    def start(self) -> None:
        signals.task_prerun.send(
            sender=self.task, task_id=self.id, task=self.task, args=self.args, kwargs=self.kwargs
        )
        if not self.eager and self.request.get("bridge") is not None:  # came from Celery
            from .celery_wire import started

            started(self.task, self.request)

    def succeeded(self, value: Any) -> Any:
        self.state, self.retval = st.SUCCESS, value
        try:
            self.task.on_success(value, self.id, self.args, self.kwargs)
        except Exception:
            if self.eager:
                raise
            logger.exception("Task %s[%s] on_success handler raised", self.task.name, self.id)
        signals.task_success.send(sender=self.task, result=value)
        self._after_return(None)
        self._answer_celery(value, None)
        return value

    def raised(self, exc: BaseException) -> BaseException:
        """What to raise to the core for ``exc`` (autoretry applied), hooks run."""
        if self._autoretries(exc):
            try:
                self.task.retry(exc=exc, **self._autoretry_options())
            except BaseException as outcome:  # Retry, or the give-up exception
                exc = outcome
        if isinstance(exc, Ignore):
            self.state, self.retval = st.IGNORED, exc
        elif isinstance(exc, Reject):
            self.state, self.retval = st.REJECTED, exc
            if not exc.requeue:  # it will not run again: a failure (Celery 5.7 and later)
                self._failure_signal(exc, ExceptionInfo(exc))
        elif isinstance(exc, Retry):
            self._retried(exc)
        else:
            self._failed(exc)
        return exc

    def finish(self) -> None:
        signals.task_postrun.send(
            sender=self.task,
            task_id=self.id,
            task=self.task,
            args=self.args,
            kwargs=self.kwargs,
            retval=self.retval,
            state=self.state,
        )

    # -- outcomes -----------------------------------------------------------------------

    def _retried(self, retry: Retry) -> None:
        self.state, self.retval = st.RETRY, retry
        einfo = ExceptionInfo(retry)
        reason = retry.exc
        self.task.on_retry(reason, self.id, self.args, self.kwargs, einfo)
        signals.task_retry.send(sender=self.task, request=self.request, reason=retry, einfo=einfo)
        if isinstance(reason, BaseException):
            self._answer_celery(None, reason)

    def _failed(self, exc: BaseException) -> None:
        self.state, self.retval = st.FAILURE, exc
        einfo = ExceptionInfo(exc)
        self._errbacks(exc, einfo)
        self.task.on_failure(exc, self.id, self.args, self.kwargs, einfo)
        self._failure_signal(exc, einfo)
        self._after_return(einfo)
        self._answer_celery(None, exc)

    def _failure_signal(self, exc: BaseException, einfo: ExceptionInfo) -> None:
        signals.task_failure.send(
            sender=self.task,
            task_id=self.id,
            exception=exc,
            args=self.args,
            kwargs=self.kwargs,
            traceback=exc.__traceback__,
            einfo=einfo,
        )

    def failed_outside(self, exc: BaseException) -> None:
        """A failure the task's own code never saw (its hard time limit, a lost child),
        handled in the worker as Celery's does: errbacks, ``on_failure``,
        ``after_return``, then ``task_failure``."""
        self.state, self.retval = st.FAILURE, exc
        einfo = ExceptionInfo(exc)
        self._errbacks(exc, einfo)
        try:
            self.task.on_failure(exc, self.id, self.args, self.kwargs, einfo)
        except Exception:
            logger.exception("Task %s[%s] on_failure handler raised", self.task.name, self.id)
        self._after_return(einfo)
        self._failure_signal(exc, einfo)
        self._answer_celery(None, exc)

    def not_run(self, exc: BaseException) -> None:
        """The task will not run: a task it waited for failed (a chord's header). Its
        errbacks are called, as Celery calls a failed chord's body's."""
        self.state, self.retval = st.FAILURE, exc
        self._errbacks(exc, ExceptionInfo(exc))

    def _answer_celery(self, value: Any, exc: BaseException | None) -> None:
        """A task that came from a Celery producer: its result where Celery reads it."""
        if self.eager or self.request.get("bridge") is None:
            return
        from .celery_wire import answer

        answer(self.task.app, self.request, self.state, value, exc)

    def _after_return(self, einfo: ExceptionInfo | None) -> None:
        try:
            self.task.after_return(self.state, self.retval, self.id, self.args, self.kwargs, einfo)
        except Exception:
            if self.eager:
                raise
            logger.exception("Task %s[%s] after_return handler raised", self.task.name, self.id)

    # -- autoretry ----------------------------------------------------------------------

    def _autoretries(self, exc: BaseException) -> bool:
        task = self.task
        on = tuple(task.autoretry_for or ())
        if not on or isinstance(exc, Ignore | Reject | Retry):
            return False
        return isinstance(exc, on) and not isinstance(exc, tuple(task.dont_autoretry_for or ()))

    def _autoretry_options(self) -> dict[str, Any]:
        task = self.task
        options = dict(task.retry_kwargs or {})
        if task.retry_backoff:
            options["countdown"] = backoff(
                float(task.retry_backoff),
                self.request.retries,
                task.retry_backoff_max,
                bool(task.retry_jitter),
            )
        return options

    # -- errbacks -----------------------------------------------------------------------

    def _errbacks(self, exc: BaseException, einfo: ExceptionInfo) -> None:
        """Call the ``link_error`` callbacks: ones taking ``(request, exc, traceback)``
        right here, as Celery does; the others are sent with the task id."""
        from .canvas import maybe_signature

        for raw in self.request.errbacks or ():
            errback = maybe_signature(raw, app=self.task.app)
            if errback is None:
                continue
            try:
                self._errback(errback, exc, einfo)
            except Exception:
                logger.exception("Errback %r raised an exception", errback.task)

    def _errback(self, errback: Any, exc: BaseException, einfo: ExceptionInfo) -> None:
        if self.request.get("bridge") is not None and not self.eager:  # came from Celery
            from .celery_wire import call_errback

            call_errback(self.task.app, errback, self.request, exc, einfo.traceback)
        elif errback.task in self.task.app.tasks and _takes_request(errback):
            errback(self.request, exc, einfo.traceback)
        elif self.eager:
            errback.apply((self.id,), parent_id=self.id, root_id=self.request.root_id)
        else:
            errback.apply_async((self.id,), parent_id=self.id, root_id=self.request.root_id)


def _takes_request(errback: Any) -> bool:
    """Whether an errback takes more than one argument beyond those it holds (Celery's
    new style, ``(request, exc, traceback)``), rather than the task id alone."""
    task = errback.type
    try:
        params = inspect.signature(task.run).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) - len(errback.args) > 1
