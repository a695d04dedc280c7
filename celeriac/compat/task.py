"""Celery's ``Task``: class attributes for options, hooks, ``self.request``, ``retry``,
``update_state``, and calling (``delay``, ``apply_async``, ``apply``, direct calls).

A task made by ``@app.task`` is an *instance* of its base class (``Task`` or the
``base=`` given) with the decorator's options set on it; its function becomes ``run``.
It is registered in the core under its name, with a wrapper that runs it the Celery
way (``_trace.py``) in the worker.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from ..core.context import current_task as core_current_task
from ..core.errors import CeleriacError
from ..core.message import new_id
from ._trace import Trace
from .canvas import Signature, _chain, chunks, group, maybe_signature, xmap, xstarmap
from .exceptions import (
    Ignore,
    ImproperlyConfigured,
    MaxRetriesExceededError,
    OperationalError,
    Reject,
    Retry,
)
from .request import Context, from_message

if TYPE_CHECKING:
    from .app import Celery
    from .result import AsyncResult, EagerResult

__all__ = ["Context", "Task", "current_task"]

# the task running in this thread or coroutine (in a worker, or eagerly)
_running: contextvars.ContextVar[Task] = contextvars.ContextVar("celeriac_running_task")


class Task:
    """A task, Celery's way: subclass it for a custom base (``base=``) with hooks."""

    #: options, as Celery's class attributes (None: the app's setting decides)
    name: str | None = None
    typing: bool | None = None
    max_retries: int | None = 3
    default_retry_delay: float = 3 * 60
    rate_limit: str | None = None
    ignore_result: bool | None = None
    trail: bool = True
    send_events: bool = True
    store_errors_even_if_ignored: bool | None = None
    serializer: str | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    track_started: bool | None = None
    acks_late: bool | None = None
    acks_on_failure_or_timeout: bool | None = None
    reject_on_worker_lost: bool | None = None
    throws: tuple[type[BaseException], ...] = ()
    expires: float | dt.datetime | None = None
    priority: int | None = None
    queue: str | None = None
    routing_key: str | None = None
    exchange: str | None = None
    resultrepr_maxsize: int = 1024
    autoretry_for: Sequence[type[BaseException]] = ()
    dont_autoretry_for: Sequence[type[BaseException]] = ()
    retry_kwargs: Mapping[str, Any] = {}
    retry_backoff: bool | float = False
    retry_backoff_max: float = 600
    retry_jitter: bool = True
    abstract: bool = True

    MaxRetriesExceededError: ClassVar[type[MaxRetriesExceededError]] = MaxRetriesExceededError
    OperationalError: ClassVar[type[OperationalError]] = OperationalError

    _app: Celery | None = None
    _shared: bool = False
    _requests: contextvars.ContextVar[Context] | None = None
    _default_request: Context | None = None

    # -- binding ------------------------------------------------------------------------

    @property
    def app(self) -> Celery:
        """The app this task belongs to (for a shared task: the current app)."""
        if self._app is not None and not self._shared:
            return self._app
        from .app import current_app

        return current_app()

    @app.setter
    def app(self, app: Celery) -> None:
        self._app = app

    @property
    def _pinned_app(self) -> Celery | None:
        """The app a signature of this task keeps: none for a shared task (it follows
        the current app, as the task does)."""
        return None if self._shared else self._app

    def bind(self, app: Celery) -> Task:
        self._app = app
        return self

    @property
    def request(self) -> Context:
        """The call being run (Celery's ``Context``); a blank one outside a run."""
        var = self._request_var()
        found = var.get(None)
        if found is not None:
            return found
        if self._default_request is None:
            self._default_request = Context()
        return self._default_request

    def _request_var(self) -> contextvars.ContextVar[Context]:
        if self._requests is None:
            self._requests = contextvars.ContextVar(f"celeriac_request_{id(self)}")
        return self._requests

    def __repr__(self) -> str:
        return f"<@task: {self.name} of {self._app.main if self._app else '?'}>"

    # -- running ------------------------------------------------------------------------

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's body: a task class defines it, ``@app.task`` sets it."""
        raise CeleriacError(f"task {self.name!r} has no run() method: define one")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here, as a plain function call (``request.called_directly``)."""
        var = self._request_var()
        current = var.get(None)
        if current is not None and current.__dict__.pop("_entering", False):
            return self.run(*args, **kwargs)  # the worker's run, through a custom __call__
        token = var.set(Context(args=args, kwargs=kwargs))
        try:
            return self.run(*args, **kwargs)
        finally:
            var.reset(token)

    def _body(self) -> Callable[..., Any]:
        """``__call__`` when a base class overrides it (Celery calls it then), else run."""
        return self if type(self).__call__ is not Task.__call__ else self.run

    def _enter(self, request: Context) -> contextvars.Token[Context]:
        request.__dict__["_entering"] = type(self).__call__ is not Task.__call__
        return self._request_var().set(request)

    @contextlib.contextmanager
    def _tracing(
        self, request: Context, args: tuple[Any, ...], kwargs: dict[str, Any], eager: bool
    ) -> Iterator[Trace]:
        token = self._enter(request)
        running = _running.set(self)
        trace = Trace(self, request, args, kwargs, eager)
        try:
            trace.start()
            yield trace
        finally:
            trace.finish()
            _running.reset(running)
            self._request_var().reset(token)

    def trace_sync(
        self, request: Context, args: tuple[Any, ...], kwargs: dict[str, Any], eager: bool
    ) -> Any:
        """One run with hooks and signals; returns the value or raises the outcome."""
        with self._tracing(request, args, kwargs, eager) as trace:
            try:
                self.before_start(trace.id, args, kwargs)
                value = self._body()(*args, **kwargs)
            except Exception as exc:
                _raise_outcome(trace, exc)
            return trace.succeeded(value)

    async def trace_async(
        self, request: Context, args: tuple[Any, ...], kwargs: dict[str, Any], eager: bool
    ) -> Any:
        """:meth:`trace_sync` for an ``async def`` task."""
        with self._tracing(request, args, kwargs, eager) as trace:
            try:
                self.before_start(trace.id, args, kwargs)
                value = await self._body()(*args, **kwargs)
            except Exception as exc:
                _raise_outcome(trace, exc)
            return trace.succeeded(value)

    def worker_function(self) -> Callable[..., Any]:
        """What the core worker runs for this task: the request built from the running
        message, then :meth:`trace_sync` (or :meth:`trace_async`)."""

        if self.is_async:

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await self.trace_async(_worker_request(args, kwargs), args, kwargs, False)

            return run_async

        def run_sync(*args: Any, **kwargs: Any) -> Any:
            return self.trace_sync(_worker_request(args, kwargs), args, kwargs, False)

        return run_sync

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.run)

    # -- hooks (no-ops; override in a base class) -----------------------------------------

    def before_start(self, task_id: str, args: Any, kwargs: Any) -> None:
        """Called before the task runs."""

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Called when the task succeeded."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called when the task failed (after its errbacks)."""

    def on_retry(
        self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called when the task is to be retried."""

    def after_return(
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """Called after the task returned or failed (not after a retry)."""

    def on_replace(self, sig: Any) -> None:
        """Called when the task is replaced by another (canvas)."""

    # -- calling ------------------------------------------------------------------------

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        """Send the task with these arguments (``apply_async`` without options)."""
        return self.apply_async(args, kwargs)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Django: ``delay`` once the current database transaction commits (at once
        outside one). Returns nothing: the task does not exist before the commit."""
        _on_commit(functools.partial(self.delay, *args, **kwargs))

    def apply_async_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Django: ``apply_async`` once the current database transaction commits."""
        _on_commit(functools.partial(self.apply_async, *args, **kwargs))

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        producer: Any = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        """Send the task to a worker (or run it here in eager mode); see
        ``docs/configuration.md`` for the options honoured."""
        args, kwargs = tuple(args or ()), dict(kwargs or {})
        if self.typing if self.typing is not None else self.app.strict_typing:
            self._check_arguments(args, kwargs)
        if self.app.conf.task_always_eager:
            return self.apply(
                args, kwargs, task_id=task_id or new_id(), link=link, link_error=link_error
            )
        options = {**self.exec_options(), **options}
        return self.app.send_call(
            self.name or "", args, kwargs, options, task=self,
            task_id=task_id, link=link, link_error=link_error, shadow=shadow,
        )  # fmt: skip

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        task_id: str | None = None,
        link: Any = None,
        link_error: Any = None,
        shadow: str | None = None,
        **options: Any,
    ) -> Any:
        """:meth:`apply_async` for async code: sends without blocking the event loop."""
        args, kwargs = tuple(args or ()), dict(kwargs or {})
        if self.typing if self.typing is not None else self.app.strict_typing:
            self._check_arguments(args, kwargs)
        options = {**self.exec_options(), **options}
        return await self.app.asend_call(
            self.name or "", args, kwargs, options, task=self,
            task_id=task_id, link=link, link_error=link_error, shadow=shadow,
        )  # fmt: skip

    async def adelay(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`delay` for async code."""
        return await self.aapply_async(args, kwargs)

    def exec_options(self) -> dict[str, Any]:
        """The send options the task's attributes set (None ones left out)."""
        names: tuple[str, ...] = ("queue", "routing_key", "exchange", "priority", "expires")
        names = (*names, "serializer", "time_limit", "soft_time_limit")
        return {n: getattr(self, n) for n in names if getattr(self, n, None) is not None}

    def _check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            signature = inspect.signature(self.run)
        except (TypeError, ValueError):
            return
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}() {exc}") from None

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        link: Any = None,
        link_error: Any = None,
        task_id: str | None = None,
        retries: int | None = None,
        throw: bool | None = None,
        logfile: str | None = None,
        loglevel: int | None = None,
        headers: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> EagerResult:
        """Run the task here and now, as a worker would; returns an EagerResult."""
        from ._eager import apply

        return apply(
            self, tuple(args or ()), dict(kwargs or {}),
            task_id=task_id, retries=retries or 0, throw=throw,
            link=link, link_error=link_error, headers=headers, options=options,
        )  # fmt: skip

    def retry(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: dt.datetime | None = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Retry:
        """Ask for the task to run again later (raises :class:`Retry` unless ``throw`` is
        False); past ``max_retries`` raises ``exc`` or :class:`MaxRetriesExceededError`."""
        request = self.request
        if request.called_directly:
            # not run by a worker: nothing would run it again
            raise exc or Retry("Task can be retried", None)
        limit = self.max_retries if max_retries is None else max_retries
        if not eta and countdown is None:
            countdown = self.default_retry_delay
        new_args = tuple(request.args or ()) if args is None else tuple(args)
        new_kwargs = dict(request.kwargs or {}) if kwargs is None else dict(kwargs)
        if limit is not None and request.retries >= limit:
            if exc is not None:
                raise exc
            raise self.MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{new_args} kwargs:{new_kwargs}",
                task_args=new_args,
                task_kwargs=new_kwargs,
            )
        retry = Retry(
            exc=exc, when=eta or countdown, is_eager=request.is_eager,
            max_retries=None, args=new_args, kwargs=new_kwargs,
        )  # fmt: skip
        retry.retry_args, retry.retry_kwargs = new_args, new_kwargs
        if not throw and not request.is_eager:
            self._send_retry(request, new_args, new_kwargs, retry.delay)
        if throw:
            raise retry
        return retry

    def _send_retry(
        self, request: Context, args: tuple[Any, ...], kwargs: dict[str, Any], delay: float | None
    ) -> None:
        """``retry(throw=False)``: send the next try now, as Celery does."""
        try:
            self.app.send_call(
                self.name or "", args, kwargs,
                {"countdown": delay, "retries": request.retries + 1, "queue": _queue_of(request)},
                task=self, task_id=request.id,
            )  # fmt: skip
        except Exception as error:
            raise Reject(error, requeue=False) from error

    def update_state(
        self,
        task_id: str | None = None,
        state: str | None = None,
        meta: Any = None,
        **kwargs: Any,
    ) -> None:
        """Store a state (e.g. a custom ``PROGRESS``) and its meta for the task."""
        task_id = task_id or self.request.id
        if task_id is None:
            raise CeleriacError("update_state() needs a task_id outside of a running task")
        self.app.store_state(task_id, state or "PENDING", meta, name=self.name)
        request = self.request
        if task_id == request.id and request.get("bridge") is not None and not request.is_eager:
            from .celery_wire import store_state  # a Celery caller reads it there

            store_state(self.app, request, state or "PENDING", meta)

    # -- results and signatures ---------------------------------------------------------

    def AsyncResult(self, task_id: str, **kwargs: Any) -> AsyncResult:
        return self.app.AsyncResult(task_id, task_name=self.name, **kwargs)

    def signature(
        self, args: Sequence[Any] | None = None, *starargs: Any, **starkwargs: Any
    ) -> Signature:
        """A signature of this task: ``task.signature((2, 2), countdown=10)``."""
        options = dict(starkwargs.pop("options", None) or {})
        kwargs = starkwargs.pop("kwargs", None)
        immutable = starkwargs.pop("immutable", False)
        options.update(starkwargs)
        return Signature(self, args, kwargs, options, immutable=immutable, app=self._pinned_app)

    subtask = signature

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature with these arguments (partial: more may come first later)."""
        return Signature(self, args, kwargs, app=self._pinned_app)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: it ignores its parent's result."""
        return Signature(self, args, kwargs, immutable=True, app=self._pinned_app)

    def replace(self, sig: Signature) -> Any:
        """Replace this task, while it runs, with ``sig`` (a task, chain, group or
        chord): ``sig`` takes this task's id, so whoever waits for this task gets its
        result, and what waits for this task (the rest of a chain, a chord's body, link
        callbacks) waits for it; this task's errbacks go with it. Raises ``Ignore``
        (write ``return self.replace(sig)``); in eager mode, returns its value."""
        if isinstance(sig, _chain) and not sig.tasks:
            raise ImproperlyConfigured("Cannot replace with an empty chain")
        if "chord" in sig.options:
            raise ImproperlyConfigured("A signature replacing a task must not be part of a chord")
        if isinstance(sig, group):  # a chord, so that one task ends with the list
            sig = sig | self.app.tasks["celery.accumulate"].s(index=0)
        request = self.request
        for errback in request.errbacks or ():
            restored = maybe_signature(errback, app=self.app)
            if restored is not None:
                sig.link_error(restored)
        if request.is_eager:
            return sig.apply().get()
        if request.id:
            sig.apply_async(task_id=request.id)
        else:
            sig.apply_async()
        raise Ignore("Replaced by new task")

    def map(self, it: Iterable[Any]) -> xmap:
        """One task that calls this one on each item: ``[task(x) for x in it]``."""
        return xmap(self.s(), it, app=self._pinned_app)

    def starmap(self, it: Iterable[Any]) -> xstarmap:
        """One task that calls this one on each item's arguments: ``[task(*x) ...]``."""
        return xstarmap(self.s(), it, app=self._pinned_app)

    def chunks(self, it: Iterable[Any], n: int) -> chunks:
        """The items' argument tuples in parts of ``n``, a task per part, as a group."""
        return chunks(self.s(), it, n, app=self._pinned_app)


def _raise_outcome(trace: Trace, exc: Exception) -> NoReturn:
    """Raise what the worker must see for ``exc`` (after hooks and autoretry)."""
    outcome = trace.raised(exc)
    if outcome is exc:
        raise exc
    raise outcome from exc


def _worker_request(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Context:
    ctx = core_current_task()
    return from_message(ctx.message, args, kwargs, ctx.worker)


def _queue_of(request: Context) -> str | None:
    info = request.delivery_info or {}
    queue: str | None = info.get("routing_key")
    return queue


class _CurrentTask:
    """Celery's ``current_task``: stands for the task running here (falsy outside one)."""

    def _get_current_object(self) -> Task | None:
        return _running.get(None)

    def __getattr__(self, name: str) -> Any:
        task = _running.get(None)
        if task is None:
            raise AttributeError(f"no task is running here: current_task has no {name!r}")
        return getattr(task, name)

    def __bool__(self) -> bool:
        return _running.get(None) is not None

    def __repr__(self) -> str:
        return repr(_running.get(None))


current_task = _CurrentTask()


def _on_commit(send: Callable[[], Any]) -> None:
    try:
        transaction = importlib.import_module("django.db.transaction")
    except ImportError:
        raise ImproperlyConfigured(
            "delay_on_commit and apply_async_on_commit need Django (they wait for its "
            "database transaction to commit): use delay or apply_async"
        ) from None
    transaction.on_commit(send)
