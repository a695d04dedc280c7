"""Logging in Celery's shape, so operators see the lines they know."""

from __future__ import annotations

import logging
import sys

__all__ = ["LOG_FORMAT", "beat_logger", "setup_logging", "worker_logger"]

LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"

worker_logger = logging.getLogger("celeriac.worker")
beat_logger = logging.getLogger("celeriac.beat")


def setup_logging(level: int | str = logging.INFO) -> None:
    """Send celeriac's logs to stderr in Celery's format (once per process)."""
    root = logging.getLogger("celeriac")
    root.setLevel(level.upper() if isinstance(level, str) else level)
    if not any(getattr(h, "_celeriac", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler._celeriac = True  # type: ignore[attr-defined]
        root.addHandler(handler)
