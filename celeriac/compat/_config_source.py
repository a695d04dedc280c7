"""Reading a configuration source: what ``config_from_object`` and ``config_from_envvar``
take in, as Celery reads it.

* Without a namespace, a source's settings are its attributes (or keys) in new or old
  spelling; old names become new ones. Mixing the two spellings is an error, as in
  Celery (both names of one setting may be given: the new one wins).
* With ``namespace='CELERY'``, a setting ``x`` is read from ``CELERY_X`` first, then,
  as Celery does, from ``x`` and from its old name (so ``CELERY_ALWAYS_EAGER`` still
  counts). Other ``CELERY_*`` names are kept under their lower-cased rest.
* Django's ``TIME_ZONE`` stands for ``timezone`` when that is not set.
"""

from __future__ import annotations
import __future__

import functools
import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from celeriac.core.errors import ConfigurationError

from ._settings import OLD_NAMES, SETTINGS

__all__ = ["check_mixed_names", "import_object", "load_envvar", "load_source", "prefix_for"]

DOCS = "docs/configuration.md"


def load_source(obj: Any, namespace: str | None = None, silent: bool = False) -> dict[str, Any]:
    """The settings in ``obj``: an object, a class, a module, a mapping, or the dotted
    name of one (``'proj.settings'``, ``'proj.settings:Config'``,
    ``'django.conf:settings'``). With ``silent``, a source that cannot be imported
    gives ``{}`` instead of the ImportError."""
    if isinstance(obj, str):
        try:
            obj = import_object(obj)
        except (ImportError, AttributeError):
            if silent:
                return {}
            raise
    items = _items(obj)
    prefix = prefix_for(namespace)
    if prefix:
        found = _namespaced(items, prefix)
    else:
        check_mixed_names(items)
        found = _plain(items)
    if "timezone" not in found and "TIME_ZONE" in items:  # Django's setting, as Celery does
        found["timezone"] = items["TIME_ZONE"]
    return found


def load_envvar(
    variable_name: str, silent: bool = False, namespace: str | None = None
) -> dict[str, Any]:
    """The settings in the module the environment variable names (``config_from_envvar``)."""
    module_name = os.environ.get(variable_name)
    if not module_name:
        if silent:
            return {}
        raise ConfigurationError(
            f"the environment variable {variable_name!r} is not set: set it to the name of "
            "the configuration module to load (for example 'proj.celeryconfig')"
        )
    return load_source(module_name, namespace=namespace, silent=silent)


def prefix_for(namespace: str | None) -> str:
    """``'CELERY'`` -> ``'CELERY_'``; nothing for no namespace."""
    return namespace.rstrip("_") + "_" if namespace else ""


def import_object(path: str) -> Any:
    """A module, or an attribute of one (``'pkg.mod:Attr'`` or ``'pkg.mod.Attr'``),
    imported with the current directory on ``sys.path`` as Celery does."""
    with _cwd_on_path():
        if ":" in path:
            module_name, _, attribute = path.partition(":")
            return _attribute(importlib.import_module(module_name), attribute)
        try:
            return importlib.import_module(path)
        except ModuleNotFoundError as exc:
            module_name, dot, attribute = path.rpartition(".")
            # only when ``path`` itself is missing, not a module it imports
            if not dot or exc.name != path:
                raise
            return _attribute(importlib.import_module(module_name), attribute)


def _attribute(obj: Any, dotted: str) -> Any:
    return functools.reduce(getattr, dotted.split("."), obj)


@contextmanager
def _cwd_on_path() -> Iterator[None]:
    cwd = os.getcwd()
    if cwd in sys.path:
        yield
        return
    sys.path.insert(0, cwd)
    try:
        yield
    finally:
        sys.path.remove(cwd)


def _items(obj: Any) -> dict[str, Any]:
    """A source's public names and values."""
    if isinstance(obj, Mapping):
        pairs = ((k, v) for k, v in obj.items() if isinstance(k, str))
    else:
        pairs = ((name, getattr(obj, name, None)) for name in dir(obj))
    return {name: value for name, value in pairs if not name.startswith("_")}


def _is_code(value: Any) -> bool:
    """Modules, classes and functions: what a config module imports or defines to build
    its settings, not settings (unless a setting's name says so: routers, schedulers);
    and ``from __future__ import annotations``, which leaves a name in the module."""
    return isinstance(value, (ModuleType, type, __future__._Feature)) or callable(value)


def _plain(items: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in items.items():
        new = OLD_NAMES.get(name)
        if new is None and (name in SETTINGS or not _is_code(value)):
            found[name] = value
        elif new is not None and new not in items:  # both spellings given: the new one wins
            found[new] = value
    return found


def _namespaced(items: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for setting in SETTINGS.values():
        for name in (_cased(prefix + setting.name, prefix), setting.name, *setting.old):
            if name in items:
                found[setting.name] = items[name]
                break
    for name, value in items.items():
        if name.startswith(prefix) and name not in OLD_NAMES:
            found.setdefault(_cased(name[len(prefix) :], "x"), value)
    return found


def _cased(name: str, like: str) -> str:
    """``name`` in the case of ``like`` (an upper-case namespace means upper-case names)."""
    return name.upper() if like.isupper() else name.lower()


def _is_celery_setting(name: str) -> bool:
    """One of Celery's own names (celeriac's settings are in neither spelling's camp)."""
    return not name.startswith("celeriac_")


def check_mixed_names(names: Iterable[str]) -> None:
    """Raise ConfigurationError, as Celery raises ImproperlyConfigured, when a source
    mixes old (``CELERY_ALWAYS_EAGER``) and new (``task_always_eager``) names.

    The spelling most names use wins (the new one on a tie); a setting given in both
    spellings is not a mix.
    """
    given = set(names)
    new = {n for n in given if n in SETTINGS and _is_celery_setting(n)}
    old = {n for n in given if n in OLD_NAMES and _is_celery_setting(OLD_NAMES[n])}
    if not new or not old:
        return
    to_old = len(old) > len(new)
    renames = {
        name: SETTINGS[name].old[0] if to_old else OLD_NAMES[name]
        for name in (new if to_old else old)
    }
    stray = {name: other for name, other in renames.items() if other not in given}
    if stray:
        raise ConfigurationError(_mix_message(stray, to_old))


def _mix_message(renames: Mapping[str, str], to_old: bool) -> str:
    lines = "\n".join(f"    {name} -> {other}" for name, other in sorted(renames.items()))
    if to_old:
        return (
            "this configuration uses old setting names (CELERY_*, upper case) but also new "
            "ones; rename these to the old names (or every setting to the new names):\n\n"
            f"{lines}\n\nSee {DOCS}."
        )
    return (
        "this configuration uses new setting names (lower case) but also old ones "
        f"(CELERY_*, upper case); rename these to the new names:\n\n{lines}\n\nSee {DOCS}."
    )
