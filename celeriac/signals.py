"""Celery's signals, where Celery keeps them: ``from celeriac.signals import ...``."""

from .compat import signals as _source
from .compat.signals import *  # noqa: F403

__all__ = list(_source.__all__)
