"""``app.conf``: Celery's settings, with Celery's names, defaults and spellings.

:class:`Settings` is a mutable mapping with attribute access. Every setting Celery 5
knows reads as its default until it is set; old upper-case names
(``CELERY_ALWAYS_EAGER``) read and write their new setting (``task_always_eager``).
Unknown names are kept but warned about, and so are settings celeriac does not support
(see ``docs/configuration.md``, generated from :mod:`._settings`).
"""

from __future__ import annotations

import copy
import difflib
import os
import pprint
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from types import MappingProxyType
from typing import Any

from ._config_source import check_mixed_names, load_envvar, load_source, prefix_for
from ._config_urls import (
    DEFAULT_BROKER_URL,
    ResolvedUrls,
    ResultBackendKind,
    core_broker_url,
    mask_url,
    resolve_urls,
    result_backend_kind,
)
from ._settings import OLD_NAMES, SETTINGS, Setting

__all__ = [
    "DEFAULTS",
    "DEFAULT_BROKER_URL",
    "SETTINGS",
    "CeleriacConfigWarning",
    "ResolvedUrls",
    "ResultBackendKind",
    "Setting",
    "Settings",
    "check_mixed_names",
    "core_broker_url",
    "load_envvar",
    "load_source",
    "mask_url",
    "resolve_urls",
    "result_backend_kind",
]

DOCS = "docs/configuration.md"
MASK = "********"

#: Every setting's default, by new name.
DEFAULTS: Mapping[str, Any] = MappingProxyType({s.name: s.default for s in SETTINGS.values()})

# Read from the environment before the configuration, as Celery does.
_ENVIRONMENT = {
    "broker_url": "CELERY_BROKER_URL",
    "broker_read_url": "CELERY_BROKER_READ_URL",
    "broker_write_url": "CELERY_BROKER_WRITE_URL",
    "result_backend": "CELERY_RESULT_BACKEND",
}
# Unset (None) settings that read as another one, as Celery's do.
_FALLBACKS = {
    "broker_read_url": "broker_url",
    "broker_write_url": "broker_url",
    "task_default_exchange": "task_default_queue",
    "task_default_routing_key": "task_default_queue",
}
# Upper-case names starting with these are meant for Celery or celeriac; other upper-case
# names (DEBUG, INSTALLED_APPS...) come from a shared settings module and are kept quietly.
_OUR_PREFIXES = ("CELERY", "BROKER", "CELERIAC")
# Words in a setting's name that mean its value is a secret (hidden by humanize/table).
_SECRET_WORDS = frozenset(
    [
        "api",
        "auth",
        "credentials",
        "key",
        "keys",
        "pass",
        "passwd",
        "password",
        "secret",
        "signature",
        "token",
    ]
)
_NOT_SECRET = ("routing_key", "key_prefix")


class CeleriacConfigWarning(UserWarning):
    """A setting celeriac does not know, or knows but does not support."""


class Settings(MutableMapping[str, Any]):
    """Celery's ``app.conf``: ``conf.broker_url``, ``conf["broker_url"]``,
    ``conf.update(...)``; old names such as ``conf.CELERY_ALWAYS_EAGER`` too.

    ``namespace='CELERY'`` also accepts ``CELERY_BROKER_URL`` for ``broker_url``, as an
    app created with that namespace does.
    """

    __slots__ = ("_changes", "_defaults", "_prefix", "_warned")

    _changes: dict[str, Any]
    _defaults: dict[str, Any]
    _prefix: str
    _warned: set[str]

    def __init__(
        self,
        changes: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        /,
        *,
        namespace: str | None = None,
        **kwargs: Any,
    ) -> None:
        object.__setattr__(self, "_changes", {})
        # each Settings owns its defaults, so mutating conf.beat_schedule stays local
        object.__setattr__(self, "_defaults", copy.deepcopy(dict(DEFAULTS)))
        object.__setattr__(self, "_prefix", prefix_for(namespace))
        object.__setattr__(self, "_warned", set())
        self.update(changes, **kwargs)

    def set_namespace(self, namespace: str | None) -> None:
        """Accept ``<NAMESPACE>_<NAME>`` for each setting from now on (None: stop)."""
        object.__setattr__(self, "_prefix", prefix_for(namespace))

    # -- names ---------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        """The new name ``key`` stands for; an unknown key stands for itself."""
        prefix = self._prefix
        if prefix and key.startswith(prefix) and key not in OLD_NAMES:
            rest = key[len(prefix) :]
            return rest.lower() if prefix.isupper() else rest
        return OLD_NAMES.get(key, key)

    # -- reading -------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise KeyError(key)
        name = self._name(key)
        env = _ENVIRONMENT.get(name)
        if env and os.environ.get(env):
            return os.environ[env]
        value = self._value(name, key)
        if value is None and name in _FALLBACKS:
            return self[_FALLBACKS[name]]
        return value

    def _value(self, name: str, key: str) -> Any:
        try:
            return self._changes[name]
        except KeyError:
            pass
        try:
            return self._defaults[name]
        except KeyError:
            raise KeyError(key) from None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"'Settings' object has no attribute {key!r}") from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = self._name(key)
        return name in self._defaults or name in self._changes

    def __iter__(self) -> Iterator[str]:
        yield from self._defaults
        yield from (name for name in self._changes if name not in self._defaults)

    def __len__(self) -> int:
        return len(self._defaults) + sum(name not in self._defaults for name in self._changes)

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *self]

    @property
    def changes(self) -> Mapping[str, Any]:
        """What was set, by new name (a read-only view)."""
        return MappingProxyType(self._changes)

    def value_set_for(self, key: str) -> bool:
        """Whether ``key`` was set, rather than read as its default."""
        return self._name(key) in self._changes

    # -- writing -------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        name = self._name(key)
        self._check(key, name, value)
        self._changes[name] = value

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):  # our own slots (copy and pickle set them this way)
            object.__setattr__(self, key, value)
        else:
            self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]

    def __delitem__(self, key: str) -> None:
        """Unset: the setting reads as its default again."""
        try:
            del self._changes[self._name(key)]
        except KeyError:
            raise KeyError(key) from None

    def update(  # type: ignore[override]
        self,
        mapping: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        /,
        **kwargs: Any,
    ) -> None:
        """Set several settings, from a mapping, pairs, and/or keyword arguments."""
        for key, value in dict(mapping or (), **kwargs).items():
            self[key] = value

    def pop(self, key: str, *default: Any) -> Any:
        """Unset ``key`` and return the value it was set to (or ``default``)."""
        return self._changes.pop(self._name(key), *default)

    def popitem(self) -> tuple[str, Any]:
        """Unset the setting set last, and return it."""
        return self._changes.popitem()

    def clear(self) -> None:
        """Unset everything: every setting reads as its default again."""
        self._changes.clear()

    def copy(self) -> Settings:
        """A new Settings with the same values (and namespace)."""
        other = Settings()
        other._changes.update(self._changes)
        other._defaults.update(self._defaults)
        other._warned.update(self._warned)
        object.__setattr__(other, "_prefix", self._prefix)
        return other

    __copy__ = copy

    # -- warnings ------------------------------------------------------------------------

    def _check(self, key: str, name: str, value: Any) -> None:
        setting = SETTINGS.get(name)
        if name in self._warned:
            return
        if setting is None:
            if not _foreign(name):
                self._warn(name, _unknown_message(key))
        elif setting.support == "unsupported" and _differs(value, setting.default):
            self._warn(name, _unsupported_message(key, setting))

    def _warn(self, name: str, message: str) -> None:
        self._warned.add(name)
        warnings.warn(message, CeleriacConfigWarning, stacklevel=_outside_celeriac())

    # -- showing -------------------------------------------------------------------------

    def table(self, with_defaults: bool = False) -> dict[str, Any]:
        """The settings (only those set, unless ``with_defaults``), sorted by name, with
        secrets hidden."""
        items = self.items() if with_defaults else self._changes.items()
        return {key: _censored(key, value) for key, value in sorted(items)}

    def humanize(self, with_defaults: bool = False) -> str:
        """:meth:`table` as text, one ``name: value`` per line (as ``celery report``)."""
        return "\n".join(
            f"{key}: {_pretty(value)}" for key, value in self.table(with_defaults).items()
        )

    def __repr__(self) -> str:
        return f"Settings({self.table()!r})"


def _foreign(name: str) -> bool:
    """An upper-case name from a settings module shared with other code (Django's)."""
    return name.isupper() and not name.startswith(_OUR_PREFIXES)


def _differs(value: Any, default: Any) -> bool:
    try:
        return bool(value != default)
    except Exception:  # a value that cannot be compared is not the default
        return True


def _unknown_message(key: str) -> str:
    names = list(OLD_NAMES) if key.isupper() else list(SETTINGS)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"unknown setting {key!r}{hint}: its value is kept but nothing reads it "
        f"(the settings are listed in {DOCS})"
    )


def _unsupported_message(key: str, setting: Setting) -> str:
    named = setting.name if key == setting.name else f"{setting.name} ({key})"
    return (
        f"setting {named} is not supported by celeriac: {setting.note}; "
        f"it has no effect (see {DOCS})"
    )


def _outside_celeriac() -> int:
    """The stack level of the first caller outside celeriac: a warning names the user's
    line, whether it came through ``conf.x = ...``, ``update`` or ``config_from_object``."""
    frame = sys._getframe(1)  # the caller of warnings.warn: stack level 1
    level = 1
    while frame.f_back is not None and _in_celeriac(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level


def _in_celeriac(module: str) -> bool:
    return module == "celeriac" or module.startswith("celeriac.")


def _secret(key: str) -> bool:
    name = key.lower()
    for harmless in _NOT_SECRET:
        name = name.replace(harmless, "")
    return not _SECRET_WORDS.isdisjoint(name.split("_"))


def _censored(key: Any, value: Any) -> Any:
    """``value`` with secrets hidden: values of secret-sounding keys, URL passwords."""
    if isinstance(key, str) and _secret(key) and value is not None:
        return MASK
    if isinstance(value, Mapping):
        return {k: _censored(k, v) for k, v in value.items()}
    if isinstance(value, str):
        return mask_url(value)
    if isinstance(value, (list, tuple)):
        masked = [mask_url(v) if isinstance(v, str) else v for v in value]
        return masked if isinstance(value, list) else tuple(masked)
    return value


def _pretty(value: Any) -> str:
    return pprint.pformat(value, width=70, sort_dicts=False).replace("\n", "\n    ")
