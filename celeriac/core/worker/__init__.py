"""The worker: fetch, run, finish (see ``_worker.py``)."""

from ._worker import Worker

__all__ = ["Worker"]
