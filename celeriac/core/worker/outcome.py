"""Outcomes: what a finished task call becomes (a result to store, maybe a retry to send),
logged the way Celery logs it, and counted."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..app import App
from ..broker import Completion, Delivery, Outgoing
from ..errors import (
    DependencyFailed,
    MaxRetriesExceeded,
    Reject,
    Retry,
    TimeLimitExceeded,
    WorkerLostError,
)
from ..liveness import Counters
from ..logs import worker_logger as logger
from ..message import TaskMessage
from ..result import FAILURE, RETRY, SUCCESS, ExceptionInfo, ResultRecord, revoked_record
from ..task import Task
from .events import EventPublisher
from .finish import DeadItem, NackItem, StoredFailure
from .observe import Observer, observing

__all__ = ["Job", "Outcomes"]

INFO = logging.INFO


@dataclass(frozen=True)
class Job:
    """A decoded delivery, ready to run."""

    delivery: Delivery
    message: TaskMessage
    task: Task[Any, Any]


def seconds(runtime: float) -> str:
    return f"{runtime:.6f}s" if runtime < 0.001 else f"{runtime:.4f}s"


def short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Outcomes:
    def __init__(
        self,
        app: App,
        worker: str,
        counters: Counters,
        events: EventPublisher | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.app = app
        self.observer = observer or Observer()
        self.worker = worker
        self.counters = counters
        self.events = events

    def _completion(
        self, job: Job, record: ResultRecord, then: Outgoing | None = None
    ) -> Completion:
        keep = not job.message.ignore_result or record.state == RETRY
        data = record.encode(self.app.codec) if keep else None
        return Completion(
            job.delivery,
            record.id,
            data,
            self.app.result_ttl,
            then,
            state=record.state,
            unique=job.message.unique or "",
        )

    def record(self, job: Job, state: str, **fields: Any) -> ResultRecord:
        m = job.message
        if self.app.result_extended:
            fields.update(args=m.args, kwargs=dict(m.kwargs), queue=m.queue)
        return ResultRecord(
            m.id, state, name=m.name, retries=m.retries, worker=self.worker, **fields
        )

    def succeeded(
        self, job: Job, value: Any, runtime: float, children: tuple[str, ...] = ()
    ) -> Completion:
        self.counters.succeeded += 1
        if logger.isEnabledFor(INFO):
            m = job.message
            logger.info(
                "Task %s[%s] succeeded in %s: %s", m.name, m.id, seconds(runtime), short(value)
            )
        if self.events is not None:
            self.events.succeeded(job.message, value, runtime)
        return self._completion(job, self.record(job, SUCCESS, value=value, children=children))

    def failed(self, job: Job, exc: BaseException) -> Completion:
        self.counters.failed += 1
        m = job.message
        if isinstance(exc, TimeLimitExceeded):
            logger.error("Hard time limit (%ss) exceeded for %s[%s]", m.timeout, m.name, m.id)
        elif isinstance(exc, DependencyFailed):
            logger.warning("Task %s[%s] not run: %s", m.name, m.id, exc)
        else:
            logger.error("Task %s[%s] raised unexpected: %r", m.name, m.id, exc, exc_info=exc)
        info = ExceptionInfo.from_exception(exc)
        if isinstance(exc, DependencyFailed):
            info = self._dependency_error(m, exc) or info
        if self.events is not None:
            self.events.failed(m, exc, info.traceback)
        if isinstance(exc, TimeLimitExceeded | WorkerLostError):
            observing(self.observer.failed_outside, m, exc)
        return self._completion(job, self.record(job, FAILURE, exc=info))

    def _dependency_error(self, m: TaskMessage, exc: DependencyFailed) -> ExceptionInfo | None:
        """What the observer records for a task that will not run, if it says."""
        try:
            return self.observer.dependency_failed(m, exc)
        except Exception:
            logger.exception("Worker observer %r raised", self.observer.dependency_failed)
            return None

    def retried(self, job: Job, retry: Retry) -> Completion:
        m = job.message
        limit = m.max_retries if retry.max_retries is None else retry.max_retries
        if limit is not None and m.retries >= limit:
            error = MaxRetriesExceeded(
                f"Can't retry {m.name}[{m.id}] args:{short(list(m.args))} "
                f"kwargs:{short(dict(m.kwargs))}: it already ran {m.retries + 1} time(s) "
                f"(max_retries={limit})"
            )
            error.__cause__ = retry.exc
            return self.failed(job, error)
        self.counters.retried += 1
        delay = job.task.retry_policy.delay_of(retry, m.retries)
        eta = time.time() + delay if delay > 0 else None
        because = f": {retry.exc!r}" if retry.exc is not None else ""
        logger.info("Task %s[%s] retry: Retry in %.2fs%s", m.name, m.id, delay, because)
        if self.events is not None:
            self.events.retried(m, retry)
        reason = ExceptionInfo.from_exception(retry.exc or retry, with_traceback=False)
        record = self.record(job, RETRY, exc=reason)
        follow_up = m.retried(eta, retry.retry_args, retry.retry_kwargs).encode(self.app.codec)
        then = Outgoing(m.id, m.queue, m.priority, follow_up, eta, name=m.name)
        return self._completion(job, record, then)

    def ignored(self, job: Job) -> Completion:
        """The task raised Ignore: acknowledged, nothing stored."""
        m = job.message
        logger.info("Task %s[%s] ignored", m.name, m.id)
        return Completion(job.delivery, m.id, None, self.app.result_ttl)

    def rejected(self, job: Job, reject: Reject) -> DeadItem | NackItem:
        """The task raised Reject: its message goes back to the queue (``requeue``) or
        to the queue's dead letters, its result a failure with the Reject (as Celery
        records it: a caller waiting on it learns it will not run)."""
        m = job.message
        logger.warning("Task %s[%s] %r", m.name, m.id, reject)
        if reject.requeue:
            return NackItem(job.delivery)
        self.counters.failed += 1
        info = ExceptionInfo.from_exception(reject)
        return DeadItem(job.delivery, "rejected", repr(reject), self.failure(job.message, info))

    def failure(self, message: TaskMessage, info: ExceptionInfo) -> StoredFailure | None:
        """The failure result of a message that goes to the dead letters (None when its
        result is ignored)."""
        if message.ignore_result:
            return None
        record = ResultRecord(
            message.id, FAILURE, name=message.name, retries=message.retries,
            worker=self.worker, exc=info,
        )  # fmt: skip
        return StoredFailure(message.id, record.encode(self.app.codec), self.app.result_ttl)

    def expired(self, job: Job) -> Completion:
        self.counters.expired += 1
        m = job.message
        logger.warning("Task %s[%s] expired before it started: discarded.", m.name, m.id)
        if self.events is not None:
            self.events.revoked(m, terminated=False, expired=True)
        observing(self.observer.revoked, m, terminated=False, expired=True)
        return self._revoked_completion(job, "expired")

    def revoked(self, job: Job, running: bool) -> Completion:
        self.counters.revoked += 1
        m = job.message
        if running:
            logger.warning("Task %s[%s] revoked while running: stopped.", m.name, m.id)
        else:
            logger.info("Discarding revoked task: %s[%s]", m.name, m.id)
        if self.events is not None:
            self.events.revoked(m, terminated=running, expired=False)
        observing(self.observer.revoked, m, terminated=running, expired=False)
        return self._revoked_completion(job, "revoked while running" if running else "revoked")

    def _revoked_completion(self, job: Job, reason: str) -> Completion:
        m = job.message
        record = revoked_record(m.id, reason, name=m.name, retries=m.retries, worker=self.worker)
        return self._completion(job, record)
