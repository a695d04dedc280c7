"""celeriac: a drop-in replacement for Celery on a fast async Redis engine.

A Celery project imports from here what it imported from ``celery``::

    from celeriac import Celery, shared_task

The engine underneath is usable on its own as :mod:`celeriac.core`.
"""

from ._version import __version__

# the command line installs what app.start(argv) runs
from .cli import main as _cli  # noqa: F401
from .compat.app import Celery, current_app, shared_task
from .compat.canvas import (
    Signature,
    chain,
    chord,
    chunks,
    group,
    maybe_signature,
    signature,
    subtask,
    xmap,
    xstarmap,
)
from .compat.task import Task, current_task

__all__ = [
    "Celery",
    "Signature",
    "Task",
    "__version__",
    "chain",
    "chord",
    "chunks",
    "current_app",
    "current_task",
    "group",
    "maybe_signature",
    "shared_task",
    "signature",
    "subtask",
    "xmap",
    "xstarmap",
]
