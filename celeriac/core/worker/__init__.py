"""The worker: fetch, run, finish (see ``_worker.py``)."""

from ._worker import Worker
from .observe import Observer

__all__ = ["Observer", "Worker"]
