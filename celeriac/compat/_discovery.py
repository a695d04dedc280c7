"""Finding a project's task modules, as Celery's loader does: ``autodiscover_tasks()``
packages (Django's installed apps when none are named) and their ``tasks`` modules,
imported when the app is finalized, or at once."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from ..core.errors import ConfigurationError

__all__ = ["Discovery"]

Packages = Iterable[str] | Callable[[], Iterable[str]] | None


class Discovery:
    """The ``autodiscover_tasks()`` calls not yet carried out."""

    def __init__(self) -> None:
        self._pending: list[tuple[Packages, str]] = []

    def add(self, packages: Packages, related: str) -> None:
        self._pending.append((packages, related))

    def run(self) -> None:
        """Import each pending package's related module (once)."""
        pending, self._pending = self._pending, []
        for packages, related in pending:
            names = packages() if callable(packages) else packages
            if names is None:
                names = _django_apps()
            for package in names:
                _import_related(package, related)


def _import_related(package: str, related: str) -> None:
    if not related:
        importlib.import_module(package)
        return
    try:
        importlib.import_module(f"{package}.{related}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"{package}.{related}", package):
            raise  # the module exists, and something it imports is missing


def _django_apps() -> list[str]:
    try:
        apps = importlib.import_module("django.apps").apps
        settings = importlib.import_module("django.conf").settings
    except ImportError:
        raise ConfigurationError(
            "autodiscover_tasks() without packages reads Django's INSTALLED_APPS, but "
            "Django is not installed: pass the packages"
        ) from None
    if apps.ready:  # the apps' own names (an entry may name an AppConfig class)
        return [config.name for config in apps.get_app_configs()]
    return list(settings.INSTALLED_APPS)
