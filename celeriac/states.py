"""Celery's states, where Celery keeps them: ``from celeriac.states import ...``."""

from .compat import states as _source
from .compat.states import *  # noqa: F403

__all__ = list(_source.__all__)
