"""celeriac: a drop-in replacement for Celery on a fast async Redis engine.

The Celery-compatible names (``Celery``, ``shared_task``...) arrive with the façade in
``celeriac.compat``; the engine is usable today as :mod:`celeriac.core`.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
