"""The Celery façade: Celery's names and behaviours on top of :mod:`celeriac.core`.

Translates Celery's vocabulary (apps, settings, tasks, results, signals, states,
exceptions) into core calls, and owns no Redis keys. Users import these names through
the Celery-shaped modules (``celeriac``, ``celeriac.result``, ``celeriac.signals``...).
"""
