"""``app.bugreport()`` (what ``celeriac report`` prints): the versions of celeriac and
what it runs on, the platform, the transport, and the settings that differ from the
defaults with secrets hidden, laid out as Celery's report."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import TYPE_CHECKING

from .._version import __version__
from ._config_urls import mask_url

if TYPE_CHECKING:
    from .app import Celery

__all__ = ["bugreport"]

PACKAGES = ("kombu", "redis", "anyio", "msgpack", "click")


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "N/A"


def _scheme(url: str | None) -> str:
    return str(url).partition("://")[0] if url else "disabled"


def bugreport(app: Celery) -> str:
    python = ".".join(str(part) for part in sys.version_info[:3])
    packages = [f"{name}:{_version(name)}" for name in PACKAGES]
    broker = app.conf.broker_url
    results = app.conf.result_backend
    lines = [
        f"software -> celeriac:{__version__} {' '.join(packages[:2])} py:{python}",
        f"            {' '.join(packages[2:])}",
        f"platform -> system:{platform.system()} arch:{', '.join(platform.architecture())}",
        f"            kernel version:{platform.release()} imp:{platform.python_implementation()}",
        "loader   -> celeriac (Celery's app loader: imports, include, autodiscover)",
        f"settings -> transport:{_scheme(broker)} "
        f"results:{mask_url(str(results)) if results else 'disabled'}",
        "",
        app.conf.humanize(),
        "",
    ]
    return "\n".join(lines)
