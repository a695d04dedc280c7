"""`Task`: a registered function, and how to call it through the queue."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from .graph import Call
from .handle import Handle, SyncHandle
from .message import TaskMessage
from .options import SendOptions
from .retry import RetryPolicy

if TYPE_CHECKING:
    from .app import App

__all__ = ["Task"]

P = ParamSpec("P")
R = TypeVar("R")


class Task(Generic[P, R]):
    """A function registered under a name, callable in-process or through the queue.

    ``await task.enqueue(*args)`` from async code and ``task.enqueue_sync(*args)`` from
    sync code send it to a worker; ``task(*args)`` calls the function directly.
    """

    def __init__(
        self,
        app: App,
        fn: Callable[P, R] | Callable[P, Awaitable[R]],
        name: str,
        defaults: SendOptions,
        *,
        track_started: bool = False,
        retry_policy: RetryPolicy | None = None,
        rate_limit: float | None = None,
    ) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.defaults = defaults
        self.track_started = track_started
        # at most this many starts per second in each worker (None: no limit)
        self.rate_limit = rate_limit
        self.retry_policy = retry_policy or RetryPolicy()
        self.is_async = inspect.iscoroutinefunction(fn)
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        kind = "async " if self.is_async else ""
        return f"<{kind}task {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Run the function here and now, as a plain call."""
        return self.fn(*args, **kwargs)

    def options(self, **overrides: Any) -> Task[P, R]:
        """This task with other send options (queue, priority, delay, eta, expires,
        task_id, timeout, soft_timeout, max_retries, ignore_result, headers...)."""
        clone: Task[P, R] = Task(
            self.app,
            self.fn,
            self.name,
            self.defaults.merged(overrides),
            track_started=self.track_started,
            retry_policy=self.retry_policy,
            rate_limit=self.rate_limit,
        )
        return clone

    def call(self, *args: P.args, **kwargs: P.kwargs) -> Call:
        """This task with these arguments, planned but not sent: pipelines are built
        from calls (``a.call(1) | b.call()``)."""
        return Call(self, args, kwargs)

    def message(self, *args: P.args, **kwargs: P.kwargs) -> TaskMessage:
        """The message a call with these arguments sends (for ``enqueue_many``)."""
        return self.defaults.message(self.name, args, kwargs, self.app.default_queue)

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Handle[R]:
        """Send a call to a worker; returns a handle on its result."""
        message = self.message(*args, **kwargs)
        existing = await self.app.send([message])
        return Handle(self.app, existing.get(message.id, message.id))

    def enqueue_sync(self, *args: P.args, **kwargs: P.kwargs) -> SyncHandle[R]:
        """Send a call from sync code (thread-safe); returns a handle on its result."""
        message = self.message(*args, **kwargs)
        existing = self.app.send_sync([message])
        return SyncHandle(self.app, existing.get(message.id, message.id))
