"""``task_routes``: which queue a task goes to, as Celery decides it.

Routes are a dict (task name, glob pattern or compiled regex → queue name or options
dict), a callable ``(name, args, kwargs, options, task=None, **kw)`` returning a queue
name, an options dict or None, or a list of those tried in order. The options given to
``apply_async`` (and the task's own ``queue``...) win over a route; with neither, the
task goes to ``task_default_queue``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core.errors import ConfigurationError
from .exceptions import QueueNotFound

__all__ = ["MapRoute", "Router", "prepare_routes"]

Route = Callable[..., Any]


class MapRoute:
    """A dict of routes: exact names first, then glob patterns and regexes in order."""

    def __init__(self, routes: Mapping[Any, Any]) -> None:
        self.exact: dict[str, Any] = {}
        self.patterns: list[tuple[re.Pattern[str], Any]] = []
        for key, route in routes.items():
            if isinstance(key, re.Pattern):
                self.patterns.append((key, route))
            elif isinstance(key, str) and any(c in key for c in "*?["):
                self.patterns.append((re.compile(fnmatch.translate(key)), route))
            else:
                self.exact[key] = route

    def __call__(self, name: str, *args: Any, **kwargs: Any) -> Any:
        found = self.exact.get(name)
        if found is not None:
            return _copy(found)
        for pattern, route in self.patterns:
            if pattern.match(name):
                return _copy(route)
        return None


def _copy(route: Any) -> Any:
    return dict(route) if isinstance(route, Mapping) else route


def prepare_routes(routes: Any) -> list[Route]:
    """The configured ``task_routes`` as a list of callables."""
    if routes is None:
        return []
    if isinstance(routes, Mapping) or callable(routes) or isinstance(routes, str):
        routes = [routes]
    return [_prepare(route) for route in routes]


def _prepare(route: Any) -> Route:
    if isinstance(route, Mapping):
        return MapRoute(route)
    if isinstance(route, str):
        return _import(route)
    if callable(route):
        prepared: Route = route
        return prepared
    raise ConfigurationError(
        f"task_routes entries must be dicts, callables or dotted names, got {route!r}"
    )


def _import(path: str) -> Route:
    import importlib

    module, _, attr = path.replace(":", ".").rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"task_routes entry {path!r} cannot be imported: {exc}") from exc
    router: Route = found() if isinstance(found, type) else found  # a class: an instance
    return router


class Router:
    """Routes a call: its explicit options, else the first route that answers, else
    the default queue."""

    def __init__(
        self,
        routes: Iterable[Route],
        default_queue: str,
        queues: Iterable[str] | None = None,
        create_missing: bool = True,
    ) -> None:
        self.routes = list(routes)
        self.default_queue = default_queue
        self.queues = set(queues) if queues is not None else None
        self.create_missing = create_missing

    def route(
        self,
        options: Mapping[str, Any],
        name: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        task: Any = None,
    ) -> dict[str, Any]:
        """The options with ``queue`` filled in from the routes when not given."""
        merged = {k: v for k, v in options.items() if v is not None}
        if "queue" not in merged:
            for route in self.routes:
                found = _call(route, name, args, kwargs or {}, merged, task)
                if found:
                    merged = {**_as_options(found), **merged}
                    break
        merged.setdefault("queue", self.default_queue)
        merged["queue"] = self._check(_queue_name(merged["queue"]))
        return merged

    def _check(self, queue: str) -> str:
        if self.queues is not None and queue not in self.queues and not self.create_missing:
            raise QueueNotFound(f"Queue {queue!r} missing from task_queues")
        return queue


def _call(
    route: Route,
    name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    options: Mapping[str, Any],
    task: Any,
) -> Any:
    if isinstance(route, MapRoute):
        return route(name)
    method = getattr(route, "route_for_task", None)  # Celery's old router classes
    if method is not None:
        return method(name, args, kwargs)
    try:
        return route(name, args, kwargs, options, task=task)
    except TypeError:
        return route(name, args, kwargs, options)


def _as_options(route: Any) -> dict[str, Any]:
    if isinstance(route, str):
        return {"queue": route}
    if isinstance(route, Mapping):
        return dict(route)
    raise ConfigurationError(f"a route must give a queue name or an options dict, got {route!r}")


def _queue_name(queue: Any) -> str:
    name = getattr(queue, "name", queue)  # a kombu Queue carries its name
    if not isinstance(name, str):
        raise ConfigurationError(f"a queue must be named by a string, got {queue!r}")
    return name
