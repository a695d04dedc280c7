"""``Celery``: the app object of a Celery project, on the celeriac core.

Settings live in ``app.conf`` under Celery's names; the core app (broker, codec,
registry) is built from them on first use, so configuration can come after the app is
created, as in Celery. Tasks registered with ``@app.task`` or ``@shared_task`` are
registered in the core too, run there through the wrapper of ``task.py``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
import warnings
import weakref
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, overload

from ..core import App as CoreApp
from ..core.errors import BrokerError, ConfigurationError
from ..core.message import TaskMessage
from ..core.result import FAILURE, ExceptionInfo, ResultRecord
from . import _calling, _django, signals
from ._app_core import make_core, register_core
from ._builtins import add_builtins
from ._discovery import Discovery
from .config import (
    CeleriacConfigWarning,
    Settings,
    load_source,
)
from .control import Control
from .exceptions import ImproperlyConfigured, NotRegistered, OperationalError
from .result import AsyncResult
from .routing import Router, prepare_routes
from .task import Task as TaskBase

__all__ = ["Celery", "current_app", "set_command_line", "shared_task"]

_lock = threading.RLock()
_current: Celery | None = None
_default: Celery | None = None
_apps: weakref.WeakSet[Celery] = weakref.WeakSet()
_shared: list[Callable[[Celery], TaskBase]] = []  # makes each shared task on an app
# the command line (``app.start``), installed by the cli layer above this one
_command_line: Callable[[Celery, list[str]], None] | None = None

RESULTS_OFF = (
    "No result backend is configured: results are not kept. Set result_backend "
    "(celeriac keeps results with the broker; see docs/configuration.md)."
)


def set_command_line(run: Callable[[Celery, list[str]], None]) -> None:
    """Install what ``app.start(argv)`` runs (done by ``celeriac.cli``)."""
    global _command_line
    _command_line = run


def current_app() -> Celery:
    """The app last created (or set with ``set_current``); a default one if none."""
    global _default
    with _lock:
        if _current is not None:
            return _current
        if _default is None:
            _default = Celery("default", set_as_current=False)
        return _default


class TaskRegistry(dict[str, TaskBase]):
    """The tasks of an app by name; a missing one raises Celery's NotRegistered."""

    def __missing__(self, key: str) -> TaskBase:
        raise NotRegistered(key)

    def regular(self) -> dict[str, TaskBase]:
        return dict(self)


class Celery:
    """A Celery app: ``Celery('proj', broker='redis://...', backend='redis://...')``."""

    Task: type[TaskBase] = TaskBase

    def __init__(
        self,
        main: str | None = None,
        loader: Any = None,
        backend: str | None = None,
        amqp: Any = None,
        events: Any = None,
        log: Any = None,
        control: Any = None,
        set_as_current: bool = True,
        tasks: Any = None,
        broker: str | None = None,
        include: Iterable[str] | None = None,
        changes: Mapping[str, Any] | None = None,
        config_source: Any = None,
        fixups: Any = None,
        task_cls: type[TaskBase] | str | None = None,
        autofinalize: bool = True,
        namespace: str | None = None,
        strict_typing: bool = True,
        **kwargs: Any,
    ) -> None:
        self.main = main
        self.namespace = namespace
        self.strict_typing = strict_typing
        self.autofinalize = autofinalize
        if task_cls is not None:
            self.Task = _import_symbol(task_cls) if isinstance(task_cls, str) else task_cls
        self.conf = Settings()
        self._preconf: dict[str, Any] = {**dict(changes or {}), **kwargs}
        if broker:
            self._preconf["broker_url"] = broker
        if backend:
            self._preconf["result_backend"] = backend
        if include:
            self._preconf["include"] = tuple(include)
        self.conf.update(self._preconf)
        if config_source is not None:
            self.config_from_object(config_source)
        self._tasks = TaskRegistry()
        self._core: CoreApp | None = None
        self._router: Router | None = None
        self._finalized = False
        self._autodiscover = Discovery()
        self._warned_options: set[str] = set()
        self.control = Control(self)
        self._fixup = _django.fixup(self)  # Celery's Django fix-up, in a Django project
        add_builtins(self)
        with _lock:
            _apps.add(self)
            for make in list(_shared):
                make(self)
        if set_as_current:
            self.set_current()

    def __repr__(self) -> str:
        return f"<Celery {self.main or '__main__'} at {id(self):#x}>"

    # -- current app --------------------------------------------------------------------

    def set_current(self) -> None:
        global _current
        with _lock:
            _current = self

    def set_default(self) -> None:
        global _default
        with _lock:
            _default = self

    # -- configuration ------------------------------------------------------------------

    def config_from_object(
        self, obj: Any, silent: bool = False, force: bool = False, namespace: str | None = None
    ) -> None:
        """Read settings from an object, a module or a dotted name (``'proj.config'``,
        ``'django.conf:settings'``); with ``namespace='CELERY'`` only ``CELERY_``-prefixed
        names. Values given to ``Celery(...)`` itself still win, as in Celery."""
        namespace = namespace if namespace is not None else self.namespace
        try:
            values = load_source(obj, namespace=namespace, silent=silent)
        except ConfigurationError as exc:  # Celery's name for it, for except clauses
            if isinstance(exc, ImproperlyConfigured):
                raise
            raise ImproperlyConfigured(str(exc)) from exc
        self.conf.update(values)
        self.conf.update(self._preconf)
        self._reconfigured()

    def config_from_envvar(
        self, variable_name: str, silent: bool = False, force: bool = False
    ) -> None:
        import os

        module = os.environ.get(variable_name)
        if not module:
            if silent:
                return
            raise ImproperlyConfigured(
                f"The environment variable {variable_name!r} is not set, and "
                "has to be set to a dotted name of a configuration module"
            )
        self.config_from_object(module, silent=silent, force=force)

    def _reconfigured(self) -> None:
        if self._core is not None:
            warnings.warn(
                "the app's broker was already in use: settings that shape it (broker_url, "
                "serializers, signing keys...) apply from the next process start",
                CeleriacConfigWarning,
                stacklevel=3,
            )
        self._router = None

    @property
    def timezone(self) -> dt.tzinfo:
        name = self.conf.timezone
        if not name:
            return dt.timezone.utc
        try:
            return zoneinfo.ZoneInfo(str(name))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ImproperlyConfigured(f"timezone {name!r} is not a known time zone") from exc

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc).astimezone(self.timezone)

    @property
    def results_enabled(self) -> bool:
        return bool(self.conf.result_backend)

    def check_results_enabled(self) -> None:
        if not self.results_enabled:
            raise ImproperlyConfigured(RESULTS_OFF)

    # -- the core app -------------------------------------------------------------------

    @property
    def core(self) -> CoreApp:
        """The core app, built from the settings on first use."""
        if self._core is None:
            with _lock:
                if self._core is None:
                    self._core = make_core(self)
                    self.finalize(auto=True)
                    for task in self._tasks.values():
                        self._register_core(task)
        return self._core

    @property
    def priority_steps(self) -> tuple[int, ...]:
        """Celery's priority bands (``broker_transport_options['priority_steps']``)."""
        options = self.conf.broker_transport_options or {}
        steps = options.get("priority_steps") or _calling.CELERY_STEPS
        return tuple(sorted(int(step) for step in steps))

    def _register_core(self, task: TaskBase) -> None:
        if self._core is not None:
            register_core(self, self._core, task)

    @property
    def router(self) -> Router:
        if self._router is None:
            conf = self.conf
            queues = _queue_names(conf.task_queues)
            self._router = Router(
                prepare_routes(conf.task_routes),
                conf.task_default_queue,
                queues,
                bool(conf.task_create_missing_queues),
            )
        return self._router

    def known_queues(self) -> list[str]:
        """The queues this app knows of: the default one, ``task_queues``, and those
        ``task_routes`` names in its dicts."""
        conf = self.conf
        names = [conf.task_default_queue, *(_queue_names(conf.task_queues) or ())]
        routes = conf.task_routes
        for route in routes if isinstance(routes, list | tuple) else [routes]:
            if isinstance(route, Mapping):
                for target in route.values():
                    queue = target.get("queue") if isinstance(target, Mapping) else target
                    if isinstance(queue, str):
                        names.append(queue)
        return list(dict.fromkeys(names))

    # -- tasks --------------------------------------------------------------------------

    @property
    def tasks(self) -> TaskRegistry:
        if self.autofinalize and not self._finalized:
            self.finalize(auto=True)
        return self._tasks

    def task(self, *args: Any, **opts: Any) -> Any:
        """Decorator: ``@app.task`` or ``@app.task(name=..., bind=True, base=...)``."""
        if len(args) == 1 and callable(args[0]) and not opts:
            return self._task_from_fun(args[0])
        if args:
            raise TypeError("@task() takes exactly 1 argument (the function)")

        def decorate(fun: Callable[..., Any]) -> TaskBase:
            return self._task_from_fun(fun, **opts)

        return decorate

    def _task_from_fun(
        self,
        fun: Callable[..., Any],
        name: str | None = None,
        base: type[TaskBase] | None = None,
        bind: bool = False,
        shared: bool = False,
        **options: Any,
    ) -> TaskBase:
        name = name or self.gen_task_name(fun.__name__, fun.__module__)
        existing = self._tasks.get(name)
        if existing is not None and getattr(existing, "__wrapped__", None) is fun:
            return existing
        task = make_task(self, fun, name, base or self.Task, bind, options)
        task._shared = shared
        self.register_task(task)
        return task

    def register_task(self, task: TaskBase | type[TaskBase], **options: Any) -> TaskBase:
        """Register a task (a ``Task`` subclass or instance with a ``run`` method)."""
        if isinstance(task, type):
            task = task()
        if not task.name:
            cls = type(task)
            task.name = self.gen_task_name(cls.__name__, cls.__module__)
        if task._app is None:
            task._app = self
        self._tasks[task.name] = task
        self._register_core(task)
        return task

    def gen_task_name(self, name: str, module: str) -> str:
        if module == "__main__" and self.main:
            module = self.main
        return f"{module}.{name}"

    def autodiscover_tasks(
        self,
        packages: Iterable[str] | Callable[[], Iterable[str]] | None = None,
        related_name: str | None = "tasks",
        force: bool = False,
    ) -> None:
        """Import ``<package>.<related_name>`` for each package, when the app is
        finalized (or now with ``force``); with no packages, Django's installed apps."""
        self._autodiscover.add(packages, related_name or "")
        if force:
            self._autodiscover.run()

    def finalize(self, auto: bool = False) -> None:
        """Mark the app finalized (Celery binds its pending tasks here; ours are bound
        as they are defined). Task modules are imported by workers, as in Celery: see
        :meth:`import_default_modules`."""
        self._finalized = True

    def import_default_modules(self) -> None:
        """Import the ``imports`` and ``include`` modules and the autodiscovered task
        modules, as a worker does when it starts (Celery's loader does the same; a
        client process imports only what its own code imports)."""
        self.finalize()
        signals.import_modules.send(sender=self)
        for module in (*tuple(self.conf.imports or ()), *tuple(self.conf.include or ())):
            importlib.import_module(module)
        self._autodiscover.run()

    # -- calling ------------------------------------------------------------------------

    def send_task(
        self,
        name: str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        countdown: float | None = None,
        eta: dt.datetime | None = None,
        task_id: str | None = None,
        **options: Any,
    ) -> AsyncResult:
        """Send a task by name (its code need not be importable here)."""
        options.update(countdown=countdown, eta=eta)
        task = self._tasks.get(name)
        if self.conf.task_always_eager:
            warnings.warn("task_always_eager has no effect on send_task", stacklevel=2)
        args, kwargs = tuple(args or ()), dict(kwargs or {})
        return self.send_call(name, args, kwargs, options, task, task_id=task_id)

    def send_call(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Mapping[str, Any],
        task: Any = None,
        **extra: Any,
    ) -> AsyncResult:
        """Send one call from sync code (the core's sync producer). ``extra``: the
        ``apply_async`` keywords that are not options (task_id, link, link_error, shadow)."""
        call = self._plan(name, args, kwargs, options, task, extra)
        if self.conf.get("celeriac_celery_tasks"):
            from . import celery_wire

            if celery_wire.goes_to_celery(self, name):  # a Celery worker runs it
                _calling.publish_signals(call.message, before=True)
                celery_wire.send_to_celery(self, call.message, extra.get("link"))
                _calling.publish_signals(call.message, before=False)
                return celery_wire.CeleryResult(call.message.id, task_name=name, app=self)
        self.publish(call.messages)
        return self.AsyncResult(call.message.id, task_name=name)

    async def asend_call(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Mapping[str, Any],
        task: Any = None,
        **extra: Any,
    ) -> AsyncResult:
        """:meth:`send_call` from async code, without blocking the event loop."""
        call = self._plan(name, args, kwargs, options, task, extra)
        await self.apublish(call.messages)
        return self.AsyncResult(call.message.id, task_name=name)

    async def apublish(self, messages: Sequence[TaskMessage]) -> None:
        """Send messages from async code, the publish signals around them."""
        for message in messages:
            _calling.publish_signals(message, before=True)
        try:
            await self.core.send(messages)
        except BrokerError as exc:
            raise OperationalError(str(exc)) from exc
        for message in messages:
            _calling.publish_signals(message, before=False)

    def _plan(
        self,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Mapping[str, Any],
        task: Any,
        extra: Mapping[str, Any],
    ) -> _calling.Call:
        merged = {**options, **{k: v for k, v in extra.items() if v is not None}}
        return _calling.plan(self, name, args, kwargs, merged, task)

    def publish(self, messages: Sequence[TaskMessage]) -> None:
        """Send messages (in one batch) with Celery's publish retry policy; the publish
        signals around them."""
        for message in messages:
            _calling.publish_signals(message, before=True)
        policy = dict(self.conf.task_publish_retry_policy or {})
        tries = 1 + (int(policy.get("max_retries", 3)) if self.conf.task_publish_retry else 0)
        wait = float(policy.get("interval_start", 0))
        for attempt in range(tries):
            try:
                self.core.send_sync(messages)
                break
            except BrokerError as exc:
                if attempt + 1 == tries:
                    raise OperationalError(str(exc)) from exc
                time.sleep(wait)
                step = float(policy.get("interval_step", 0.2))
                wait = min(wait + step, float(policy.get("interval_max", 1)))
        for message in messages:
            _calling.publish_signals(message, before=False)

    def warn_unknown_options(self, options: Mapping[str, Any]) -> None:
        serializer = options.get("serializer")
        if serializer is not None and serializer != self.conf.task_serializer:
            self._warn_once(
                f"serializer:{serializer}",
                f"serializer {serializer!r} differs from task_serializer "
                f"{self.conf.task_serializer!r}: celeriac encodes every message of an app "
                "with task_serializer (docs/differences.md)",
            )
        for key in options:
            if key not in KNOWN_OPTIONS and key not in _calling.IGNORED_OPTIONS:
                self._warn_once(
                    key,
                    f"apply_async option {key!r} is not known to celeriac and has no effect "
                    "(the options honoured are in docs/celery.md)",
                )

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned_options:
            return
        self._warned_options.add(key)
        warnings.warn(message, CeleriacConfigWarning, stacklevel=5)

    # -- results ------------------------------------------------------------------------

    def AsyncResult(
        self, id: str, backend: Any = None, task_name: str | None = None, parent: Any = None
    ) -> AsyncResult:
        if self.conf.get("celeriac_celery_tasks"):  # Celery workers keep some results
            from .celery_wire import EitherResult

            return EitherResult(id, backend, task_name, app=self, parent=parent)
        return AsyncResult(id, backend, task_name, app=self, parent=parent)

    def bugreport(self) -> str:
        """Versions, platform and settings (secrets hidden), as ``celeriac report``
        prints them for a bug report."""
        from ._report import bugreport

        return bugreport(self)

    def store_state(self, task_id: str, state: str, meta: Any, name: str | None = None) -> None:
        """Store an intermediate state (``update_state``)."""
        if not self.results_enabled:
            return
        record = ResultRecord(task_id, state, value=meta, name=name)
        self._store(record)

    def store_outcome(
        self,
        task_id: str,
        state: str,
        value: Any,
        trace: str | None,
        name: str | None = None,
        retries: int = 0,
    ) -> None:
        """Store an eager task's outcome (``task_store_eager_result``)."""
        if state == FAILURE and isinstance(value, BaseException):
            info = ExceptionInfo.from_exception(value)
            record = ResultRecord(task_id, state, exc=info, name=name, retries=retries)
        else:
            record = ResultRecord(task_id, state, value=value, name=name, retries=retries)
        self._store(record)

    def _store(self, record: ResultRecord) -> None:
        core = self.core
        data = record.encode(core.codec)
        try:
            core.sync_broker.store_result(record.id, record.state, data, core.result_ttl)
        except BrokerError as exc:
            raise OperationalError(str(exc)) from exc

    def signature(self, name: Any, *args: Any, **kwargs: Any) -> Any:
        from .canvas import signature

        return signature(name, *args, app=self, **kwargs)

    # -- running ------------------------------------------------------------------------

    def worker_main(self, argv: Sequence[str] | None = None) -> None:
        """Run a worker in this process, from command-line arguments (``['worker',
        '-l', 'INFO']``), as ``celeriac -A thisapp worker ...`` would."""
        argv = list(argv or ["worker"])
        if not argv or argv[0] != "worker":
            raise ValueError("The worker sub-command must be specified in argv.")
        self.start(argv)

    def start(self, argv: Sequence[str] | None = None) -> None:
        """Run the command line in this process with this app (``['worker', ...]``)."""
        if _command_line is None:
            raise ImproperlyConfigured("the celeriac command line is not installed")
        _command_line(self, list(argv or []))

    def close(self) -> None:
        if self._core is not None:
            self._core.close()

    def __enter__(self) -> Celery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


KNOWN_OPTIONS = frozenset(
    {
        "countdown", "eta", "expires", "priority", "queue", "task_id", "link", "link_error",
        "headers", "ignore_result", "shadow", "time_limit", "soft_time_limit", "parent_id",
        "root_id", "group_id", "group_index", "chord", "chain", "retries", "serializer",
        "celeriac_bridge",  # internal: a task that came from Celery (celery_wire.py)
    }
)  # fmt: skip


def make_task(
    app: Celery,
    fun: Callable[..., Any],
    name: str,
    base: type[TaskBase],
    bind: bool,
    options: Mapping[str, Any],
) -> TaskBase:
    """A task instance of ``base`` with ``fun`` as its ``run`` and the options set."""
    task = base()
    task._app = app
    task.name = name
    for key, value in options.items():
        setattr(task, key, value)
    task.run = fun.__get__(task) if bind else fun  # type: ignore[method-assign]
    task.__doc__ = fun.__doc__
    task.__wrapped__ = fun  # type: ignore[attr-defined]
    task.__module__ = fun.__module__
    return task


@overload
def shared_task(fun: Callable[..., Any], /) -> TaskBase: ...


@overload
def shared_task(**options: Any) -> Callable[[Callable[..., Any]], TaskBase]: ...


def shared_task(*args: Any, **options: Any) -> Any:
    """Decorator: a task every app gets (those made later too); used where the app is
    not importable, as in a Django app's ``tasks.py``."""

    def create(fun: Callable[..., Any]) -> TaskBase:
        name = options.get("name")

        def make(app: Celery) -> TaskBase:
            return app._task_from_fun(fun, shared=True, **options)

        with _lock:
            _shared.append(make)
            made = [make(app) for app in list(_apps)]
        if made:
            return (
                made[-1]
                if _current is None
                else _current.tasks.get(name or made[-1].name or "", made[-1])
            )
        return make(current_app())

    if len(args) == 1 and callable(args[0]) and not options:
        return create(args[0])
    return create


def _queue_names(queues: Any) -> list[str] | None:
    if not queues:
        return None
    return [getattr(q, "name", q) for q in queues]


def _import_symbol(path: str) -> Any:
    module, _, attr = path.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), attr)
