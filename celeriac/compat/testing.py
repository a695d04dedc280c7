"""Testing a project: an app configured for tests and a real worker run in a thread
(Celery's ``celery.contrib.testing``), used by the pytest plugin.

The worker is the real one (fetch, run, finish), on the in-process ``memory://``
broker by default or on the Redis a test configures.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

import anyio

from ..core import Worker
from ..core.app import Lifespan
from ..core.runtime import run
from .app import Celery
from .worker import WorkerOptions, make_worker

__all__ = [
    "DEFAULT_TEST_CONFIG",
    "TestApp",
    "TestWorkController",
    "setup_app_for_worker",
    "start_worker",
]

DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "broker_url": "memory://",
    "result_backend": "memory://",
    "broker_heartbeat": 0,
}
PING_TASK = "celery.ping"


def TestApp(
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    enable_logging: bool = False,
    set_as_current: bool = False,
    log: Any = None,
    backend: Any = None,
    broker: Any = None,
    **kwargs: Any,
) -> Celery:
    """An app for tests: memory broker and results unless ``config`` says otherwise."""
    conf = {**DEFAULT_TEST_CONFIG, **dict(config or {})}
    if broker is not None:
        conf["broker_url"] = broker
    if backend is not None:
        conf["result_backend"] = backend
    if conf["broker_url"] == "memory://":
        # an in-process broker of its own, so that the session's worker and a test's
        # worker never take each other's tasks
        conf["broker_url"] = f"memory://test-{uuid.uuid4().hex[:12]}"
    return Celery(name or "celery.tests", set_as_current=set_as_current, **conf, **kwargs)


class TestWorkController:
    """A worker run in a thread of its own (its own event loop) until stopped."""

    def __init__(self, app: Celery, worker: Worker) -> None:
        self.app = app
        self.worker = worker
        self.hostname = worker.name
        worker.lifespan = self._ready_once_started(worker.lifespan)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"worker {worker.name}", daemon=True
        )

    def start(self, timeout: float = 10) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the test worker did not start within {timeout}s")
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the test worker did not stop within {timeout}s")
        if self._error is not None:
            raise self._error

    def reload(
        self, modules: Iterable[str] | None = None, reload: bool = False, reloader: Any = None
    ) -> None:
        """Import ``modules`` (again, with ``reload``) and make the worker run the tasks
        registered since it started, as Celery's ``WorkController.reload``."""
        for name in modules or ():
            module = sys.modules.get(name)
            if module is not None and reload:
                (reloader or importlib.reload)(module)
            else:
                importlib.import_module(name)
        self.app.finalize()
        self.worker.renew_pool()

    def _main(self) -> None:
        try:
            run(self._serve, uvloop=False)
        except BaseException as exc:  # reported to the test by stop()
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._watch_stop)
            try:
                await self.worker.run()
            finally:
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True):  # the group's scope is cancelled
                    await self.app.core.aclose()

    def _ready_once_started(self, inner: Lifespan | None) -> Lifespan:
        """The worker's lifespan, telling start() once the worker is up (its process
        pool forked, its lifespan entered): tasks defined later need ``reload()``."""

        @contextlib.asynccontextmanager
        async def lifespan(worker: Worker) -> AsyncIterator[Any]:
            async with contextlib.AsyncExitStack() as stack:
                resources = (
                    None if inner is None else await stack.enter_async_context(inner(worker))
                )
                self._ready.set()
                yield resources

        return lifespan

    async def _watch_stop(self) -> None:
        await anyio.to_thread.run_sync(self._stop.wait, abandon_on_cancel=True)
        self.worker.stop()


def setup_app_for_worker(app: Celery, loglevel: Any = None, logfile: Any = None) -> None:
    """Make sure the app has its tasks (and the ping task) before a worker starts."""
    app.finalize()
    if PING_TASK not in app.tasks:
        app.task(name=PING_TASK)(_ping)


def _ping() -> str:
    return "pong"


@contextlib.contextmanager
def start_worker(
    app: Celery,
    concurrency: int = 1,
    pool: str = "solo",
    loglevel: Any = "WARNING",
    logfile: str | None = None,
    perform_ping_check: bool = True,
    ping_task_timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    **kwargs: Any,
) -> Iterator[TestWorkController]:
    """Run a worker for ``app`` in a thread while the block runs; with
    ``perform_ping_check``, wait until it answers the ping task first."""
    setup_app_for_worker(app, loglevel, logfile)
    queues = kwargs.pop("queues", None)
    options = WorkerOptions(
        queues=queues, concurrency=concurrency, pool="threads" if pool == "solo" else pool,
        hostname=kwargs.pop("hostname", None),
    )  # fmt: skip
    controller = TestWorkController(app, make_worker(app, options))
    controller.start()
    try:
        if perform_ping_check and app.results_enabled:
            result = app.send_task(PING_TASK, queue=(queues or [None])[0])
            if result.get(timeout=ping_task_timeout) != "pong":
                raise AssertionError("the test worker did not answer the ping task")
        yield controller
    finally:
        controller.stop(shutdown_timeout)
