"""Celery's canvas, where Celery keeps it: ``from celeriac.canvas import signature``."""

from .compat.canvas import Signature, maybe_signature, signature, subtask

__all__ = ["Signature", "maybe_signature", "signature", "subtask"]
