"""Celery's canvas, where Celery keeps it: ``from celeriac.canvas import chain, group``."""

from .compat.canvas import (
    Signature,
    _chain,
    _chord,
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

__all__ = [
    "Signature",
    "_chain",
    "_chord",
    "chain",
    "chord",
    "chunks",
    "group",
    "maybe_signature",
    "signature",
    "subtask",
    "xmap",
    "xstarmap",
]
