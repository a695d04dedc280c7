"""Results of several tasks: ``ResultSet`` (waited for together, in order) and
``GroupResult`` (a group's, which can be saved in Redis and restored by id), and
``result_from_tuple``. Import them from ``result``, which re-exports them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import states
from .exceptions import TimeoutError
from .result import AsyncResult, ResultBase, assert_will_not_block

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["GroupResult", "ResultSet", "result_from_tuple"]


class ResultSet(ResultBase):
    """Results of several tasks, waited for together; in the order they were added."""

    def __init__(self, results: Iterable[Any] | None = None, app: Celery | None = None) -> None:
        self._app = app
        self.results: list[Any] = list(results or [])

    @property
    def app(self) -> Celery:
        if self._app is None:
            for result in self.results:
                self._app = result.app
                break
            else:
                from .app import current_app

                self._app = current_app()
        return self._app

    @app.setter
    def app(self, value: Celery) -> None:
        self._app = value

    @property
    def backend(self) -> Any:
        return None

    # -- the set ------------------------------------------------------------------------

    def add(self, result: Any) -> None:
        if result not in self.results:
            self.results.append(result)

    def remove(self, result: Any) -> None:
        if isinstance(result, str):
            result = AsyncResult(result, app=self._app)
        try:
            self.results.remove(result)
        except ValueError:
            raise KeyError(result) from None

    def discard(self, result: Any) -> None:
        with contextlib.suppress(KeyError):
            self.remove(result)

    def update(self, results: Iterable[Any]) -> None:
        self.results.extend(r for r in results if r not in self.results)

    def clear(self) -> None:
        self.results[:] = []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Any:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultSet):
            return other.results == self.results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: [{', '.join(str(r.id) for r in self.results)}]>"

    # -- their states -------------------------------------------------------------------

    def successful(self) -> bool:
        """Whether every task succeeded."""
        return all(result.successful() for result in self.results)

    def failed(self) -> bool:
        """Whether any task failed."""
        return any(result.failed() for result in self.results)

    def waiting(self) -> bool:
        """Whether any task is not ready yet."""
        return any(not result.ready() for result in self.results)

    def ready(self) -> bool:
        """Whether every task is ready (succeeded, failed or revoked)."""
        return all(result.ready() for result in self.results)

    def completed_count(self) -> int:
        """How many tasks succeeded."""
        return sum(int(result.successful()) for result in self.results)

    def maybe_throw(self, callback: Any = None, propagate: bool = True) -> None:
        """Raise the first failure, in the order of the results."""
        for result in self.results:
            result.maybe_throw(callback=callback, propagate=propagate)

    maybe_reraise = maybe_throw

    def forget(self) -> None:
        for result in self.results:
            result.forget()

    def revoke(
        self,
        connection: Any = None,
        terminate: bool = False,
        signal: Any = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Revoke every task of the set."""
        ids = [r.id for r in self._leaves()]
        self.app.control.revoke(ids, terminate=terminate, signal=signal)

    def _leaves(self) -> Iterator[AsyncResult]:
        for result in self.results:
            if isinstance(result, ResultSet):
                yield from result._leaves()
            else:
                yield result

    # -- waiting ------------------------------------------------------------------------

    def join(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        callback: Callable[[str, Any], Any] | None = None,
        no_ack: bool = True,
        on_message: Callable[[dict[str, Any]], Any] | None = None,
        disable_sync_subtasks: bool = True,
        on_interval: Callable[[], Any] | None = None,
    ) -> list[Any]:
        """Wait for every task, in order; the values (exceptions too, without
        ``propagate``). ``timeout`` is for the whole wait. With ``callback``, each
        ``(task_id, value)`` goes to it instead and the list is empty."""
        if disable_sync_subtasks:
            assert_will_not_block()
        deadline = None if timeout is None else time.monotonic() + timeout
        values: list[Any] = []
        for result in self.results:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("join operation timed out")
            if isinstance(result, ResultSet):
                value: Any = result.join(remaining, propagate, disable_sync_subtasks=False)
            else:
                value = result.get(
                    timeout=remaining, propagate=propagate, follow_parents=False,
                    disable_sync_subtasks=False, on_message=on_message,
                )  # fmt: skip
            if callback is not None:
                callback(result.id, value)
            else:
                values.append(value)
        return values

    get = join_native = join

    def iter_native(self, timeout: float | None = None, **kwargs: Any) -> Iterator[Any]:
        """``(task_id, meta)`` of each task as it is ready, in order."""
        for result in self.results:
            value = result.get(timeout=timeout, propagate=False, disable_sync_subtasks=False)
            yield result.id, {"status": result.state, "result": value}

    def supports_native_join(self) -> bool:
        return True


class GroupResult(ResultSet):
    """The result of a group: its id and its tasks' results, in order."""

    def __init__(
        self,
        id: str | None = None,
        results: Iterable[Any] | None = None,
        parent: Any = None,
        app: Celery | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(results, app=app)
        self.id = id
        self.parent = parent

    @property
    def children(self) -> list[Any]:
        return self.results

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GroupResult):
            return other.id == self.id and other.results == self.results
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(str(r.id) for r in self.results)}]>"

    def __str__(self) -> str:
        return str(self.id)

    def as_tuple(self) -> tuple[Any, ...]:
        parent = self.parent
        return (self.id, parent and parent.as_tuple()), [r.as_tuple() for r in self.results]

    def save(self, backend: Any = None) -> GroupResult:
        """Keep the group (its tasks' ids) in Redis, for :meth:`restore` (as long as
        results are kept: ``result_expires``)."""
        self.app.check_results_enabled()
        self.app.store_outcome(_group_key(self.id), states.SUCCESS, self.as_tuple(), None)
        return self

    def delete(self, backend: Any = None) -> None:
        """Forget the saved group (its tasks' results stay)."""
        self.app.check_results_enabled()
        self.app.core.sync_broker.forget(_group_key(self.id))

    @classmethod
    def restore(cls, id: str, backend: Any = None, app: Celery | None = None) -> GroupResult | None:
        """A saved group by id; None when it was not saved (or has expired)."""
        if app is None:
            from .app import current_app

            app = current_app()
        app.check_results_enabled()
        record = app.core.sync_handle(_group_key(id)).record()
        if record is None:
            return None
        restored = result_from_tuple(record.value, app)
        return restored if isinstance(restored, GroupResult) else None


def _group_key(group_id: str | None) -> str:
    return f"celery-taskset-meta-{group_id}"


def result_from_tuple(r: Any, app: Celery | None = None) -> Any:
    """An AsyncResult (or GroupResult) from its ``as_tuple()`` form."""
    if isinstance(r, ResultBase):
        return r
    (task_id, parent), nodes = r
    parent_result = result_from_tuple(parent, app) if parent else None
    if nodes is not None:
        children = [result_from_tuple(child, app) for child in nodes]
        return GroupResult(task_id, children, parent=parent_result, app=app)
    return AsyncResult(task_id, app=app, parent=parent_result)
