"""Celery's exceptions, where Celery keeps them: ``from celeriac.exceptions import ...``."""

from .compat import exceptions as _source
from .compat.exceptions import *  # noqa: F403

__all__ = list(_source.__all__)
