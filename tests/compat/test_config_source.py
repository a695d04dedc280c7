"""Loading configuration sources (``config_from_object``, ``config_from_envvar``), side by
side with Celery loading the same source."""

from __future__ import annotations

import re
import sys
import textwrap
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery
from celery.app import defaults as celery_defaults
from celery.exceptions import ImproperlyConfigured

from celeriac.compat.config import CeleriacConfigWarning, Settings, load_envvar, load_source
from celeriac.core.errors import ConfigurationError
from tests.celery_reference import celery_reference

# every test here reads a source as Celery does, with Celery's settings
pytestmark = celery_reference

MakeModule = Callable[[str], str]


@pytest.fixture(autouse=True)
def _no_config_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_module(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeModule]:
    """Write a config module under a fresh name; return the name to import it by."""
    monkeypatch.syspath_prepend(str(tmp_path))
    names: list[str] = []

    def make(source: str) -> str:
        name = f"cfg_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield make
    for name in names:
        sys.modules.pop(name, None)


def celery_conf(source: Any, namespace: str | None = None) -> Any:
    app = Celery(set_as_current=False)
    app.config_from_object(source, namespace=namespace)
    return app.conf.finalize()


def our_conf(source: Any, namespace: str | None = None) -> Settings:
    conf = Settings(namespace=namespace)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CeleriacConfigWarning)
        conf.update(load_source(source, namespace=namespace))
    return conf


def assert_read_alike(
    source: Any, namespace: str | None = None, extra: tuple[str, ...] = ()
) -> Settings:
    """Every Celery setting (and the ``extra`` names) reads the same from both."""
    ours, theirs = our_conf(source, namespace), celery_conf(source, namespace)
    names = [*celery_defaults.DEFAULTS, *extra]
    assert [n for n in names if getattr(ours, n) != getattr(theirs, n)] == []
    return ours


# -- reading sources ------------------------------------------------------------------------

NEW_STYLE = """
    import os
    from datetime import timedelta

    broker_url = "redis://h:6379/1"
    result_backend = "redis://h:6379/2"
    task_always_eager = True
    worker_concurrency = 3
    result_expires = timedelta(hours=1)
    beat_schedule = {"tick": {"task": "proj.tick", "schedule": 10.0}}

    def route(name, args, kwargs, options, task=None, **kw):
        return {"queue": "q"}

    task_routes = (route,)
    helper_value = 7
"""

OLD_STYLE = """
    BROKER_URL = "redis://h:6379/1"
    CELERY_RESULT_BACKEND = "redis://h:6379/2"
    CELERY_ALWAYS_EAGER = True
    CELERYD_CONCURRENCY = 3
    CELERY_TASK_RESULT_EXPIRES = 60
    CELERYBEAT_SCHEDULE = {"tick": {"task": "proj.tick", "schedule": 10.0}}
    CELERY_ROUTES = {"proj.*": {"queue": "q"}}
    TIME_ZONE = "Europe/Paris"
"""

DJANGO = """
    DEBUG = True
    INSTALLED_APPS = ["django.contrib.admin"]
    TIME_ZONE = "Europe/Paris"
    CELERY_BROKER_URL = "redis://h:6379/1"
    CELERY_RESULT_BACKEND = "redis://h:6379/2"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_ACKS_LATE = True
    CELERYD_PREFETCH_MULTIPLIER = 1
    BROKER_HEARTBEAT = 5
    CELERY_MY_OPTION = "mine"
    CELERY_CELERIAC_KEY_PREFIX = "proj"
"""


def test_a_new_style_module_reads_as_in_celery(make_module: MakeModule) -> None:
    conf = assert_read_alike(make_module(NEW_STYLE), extra=("helper_value",))
    assert conf.task_routes[0].__name__ == "route"  # a setting may be a function
    assert "os" not in conf and "route" not in conf and "timedelta" not in conf


def test_an_old_style_module_reads_as_in_celery(make_module: MakeModule) -> None:
    conf = assert_read_alike(make_module(OLD_STYLE))
    assert conf.timezone == "Europe/Paris"  # Django's name, as Celery reads it
    assert conf.changes["task_always_eager"] is True


def test_a_namespace_reads_as_in_celery(make_module: MakeModule) -> None:
    conf = assert_read_alike(make_module(DJANGO), "CELERY", extra=("my_option",))
    assert conf.task_acks_late is True  # an old name, still read under the namespace
    assert conf.worker_prefetch_multiplier == 1  # an old name without the prefix
    assert conf.broker_heartbeat == 5
    assert conf.celeriac_key_prefix == "proj"
    assert conf.timezone == "Europe/Paris"
    assert "DEBUG" not in conf  # not prefixed, not a setting: not read


def test_the_prefixed_name_wins_under_a_namespace(make_module: MakeModule) -> None:
    name = make_module(
        """
        CELERY_TASK_ALWAYS_EAGER = False
        task_always_eager = True
        CELERY_ALWAYS_EAGER = True
        BROKER_URL = "redis://old/0"
        TIME_ZONE = "Europe/Paris"
        CELERY_TIMEZONE = "Asia/Tokyo"
        """
    )
    conf = assert_read_alike(name, "CELERY")
    assert (conf.task_always_eager, conf.broker_url, conf.timezone) == (
        False,
        "redis://old/0",
        "Asia/Tokyo",
    )


def test_a_lower_case_namespace_reads_as_in_celery(make_module: MakeModule) -> None:
    name = make_module(
        """
        celery_broker_url = "redis://lower/0"
        celery_task_acks_late = True
        CELERY_TASK_TRACK_STARTED = True
        """
    )
    conf = assert_read_alike(name, "celery")
    assert conf.broker_url == "redis://lower/0"
    assert conf.task_track_started is False


class Config:
    broker_url = "redis://class/0"
    task_acks_late = True


class Holder:
    def __init__(self) -> None:
        self.broker_url = "redis://instance/0"
        self.worker_concurrency = 2


@pytest.mark.parametrize(
    "source",
    [
        Config,
        Holder(),
        {"broker_url": "redis://mapping/0", "CELERY_ACKS_LATE_TYPO": 1},
        "tests.compat.test_config_source:Config",
        "tests.compat.test_config_source.Config",
    ],
)
def test_classes_objects_mappings_and_dotted_names(source: Any) -> None:
    assert_read_alike(source, extra=("CELERY_ACKS_LATE_TYPO",) if isinstance(source, dict) else ())


def test_a_module_by_its_name_or_itself(make_module: MakeModule) -> None:
    name = make_module("task_acks_late = True")
    assert load_source(name) == load_source(sys.modules[name]) == {"task_acks_late": True}


def test_unknown_names_are_kept_and_warned_about_when_set(make_module: MakeModule) -> None:
    found = load_source(make_module("task_alwyas_eager = True"))
    conf = Settings()
    with pytest.warns(CeleriacConfigWarning, match="did you mean 'task_always_eager'"):
        conf.update(found)
    assert conf.task_alwyas_eager is True


# -- import errors and silent --------------------------------------------------------------


def test_a_missing_module_raises_unless_silent() -> None:
    with pytest.raises(ImportError):
        load_source("no_such_config_module_xyz")
    assert load_source("no_such_config_module_xyz", silent=True) == {}
    assert load_source("no_such_package_xyz.settings:Config", silent=True) == {}


def test_a_missing_attribute_raises_unless_silent(make_module: MakeModule) -> None:
    name = make_module("x = 1")
    for path in (f"{name}:Config", f"{name}.Config"):
        with pytest.raises((AttributeError, ImportError)):
            celery_conf(path)
        with pytest.raises((AttributeError, ImportError)):
            load_source(path)
        assert load_source(path, silent=True) == {}


def test_an_import_error_inside_the_module_is_not_mistaken_for_a_missing_name(
    make_module: MakeModule,
) -> None:
    name = make_module("import no_such_dependency_xyz\nbroker_url = 'redis://'")
    with pytest.raises(ModuleNotFoundError) as caught:
        load_source(name)
    assert caught.value.name == "no_such_dependency_xyz"
    assert load_source(name, silent=True) == {}


def test_modules_are_found_in_the_current_directory(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"cwdcfg_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text("task_acks_late = True\n")
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    try:
        assert load_source(name) == {"task_acks_late": True}
    finally:
        sys.modules.pop(name, None)
    assert sys.path == path_before


# -- mixing old and new names ---------------------------------------------------------------

_RENAME = re.compile(r"^\s*(\S+)\s+->\s+(\S+)\s*$", re.MULTILINE)

MIXES = [
    {"BROKER_URL": "x", "task_always_eager": True, "CELERYD_CONCURRENCY": 2},
    {"broker_url": "x", "CELERY_ALWAYS_EAGER": True},
    {"broker_url": "x", "task_acks_late": True, "CELERY_ALWAYS_EAGER": True},
    {"BROKER_URL": "x", "CELERY_TASK_RESULT_EXPIRES": 5, "result_expires": 6, "task_acks_late": 1},
    {"BROKER_URL": "x", "CELERYBEAT_SCHEDULE": {}, "beat_schedule": {}, "task_routes": {}},
]
NOT_MIXES = [
    {"BROKER_URL": "x", "task_always_eager": True, "CELERY_ALWAYS_EAGER": False},
    {"broker_url": "x", "CELERIAC_SIGNING_KEYS": ["k" * 32]},
    {"BROKER_URL": "x", "celeriac_signing_keys": ["k" * 32]},
    {"broker_url": "x", "DEBUG": True, "SECRET_KEY": "s"},
    {"BROKER_URL": "x", "CELERY_ALWAYS_EAGER": True},
]


@pytest.mark.parametrize("source", MIXES)
def test_mixing_old_and_new_names_raises_as_in_celery(source: dict[str, Any]) -> None:
    with pytest.raises(ImproperlyConfigured) as theirs:
        celery_conf(source)
    with pytest.raises(ConfigurationError) as ours:
        load_source(source)
    assert _RENAME.findall(str(ours.value)) == _RENAME.findall(str(theirs.value))
    assert _RENAME.findall(str(ours.value))
    assert "docs/configuration.md" in str(ours.value)


@pytest.mark.parametrize("source", NOT_MIXES)
def test_sources_celery_accepts_are_accepted(source: dict[str, Any]) -> None:
    assert_read_alike(source, extra=tuple(k for k in ("DEBUG", "SECRET_KEY") if k in source))


def test_a_setting_given_under_both_names_takes_the_new_ones_value() -> None:
    # Celery answers its new name with the new value too (and its old name with the old
    # value: one setting, two answers); here both names are the one setting.
    conf = assert_read_alike(NOT_MIXES[0])
    assert conf.task_always_eager is conf.CELERY_ALWAYS_EAGER is True


def test_the_spelling_most_names_use_decides_the_direction() -> None:
    with pytest.raises(ConfigurationError) as to_old:
        load_source(MIXES[0])
    assert "task_always_eager -> CELERY_ALWAYS_EAGER" in str(to_old.value)
    with pytest.raises(ConfigurationError) as to_new:
        load_source(MIXES[1])
    assert "CELERY_ALWAYS_EAGER -> task_always_eager" in str(to_new.value)


@pytest.mark.parametrize("source", MIXES)
def test_a_namespace_never_raises_for_a_mix(source: dict[str, Any]) -> None:
    celery_conf(source, "CELERY")
    load_source(source, namespace="CELERY")


# -- config_from_envvar ---------------------------------------------------------------------


def test_envvar_names_the_module(make_module: MakeModule, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJ_CONFIG", make_module("CELERY_TASK_ACKS_LATE = True"))
    assert load_envvar("PROJ_CONFIG", namespace="CELERY") == {"task_acks_late": True}


def test_an_unset_envvar_raises_as_in_celery_unless_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROJ_CONFIG", raising=False)
    with pytest.raises(ImproperlyConfigured):
        Celery(set_as_current=False).config_from_envvar("PROJ_CONFIG")
    with pytest.raises(ConfigurationError, match="'PROJ_CONFIG' is not set"):
        load_envvar("PROJ_CONFIG")
    assert load_envvar("PROJ_CONFIG", silent=True) == {}
    monkeypatch.setenv("PROJ_CONFIG", "no_such_config_module_xyz")
    assert load_envvar("PROJ_CONFIG", silent=True) == {}


def test_a_future_import_is_not_taken_for_a_setting(make_module: MakeModule) -> None:
    name = make_module(
        """
        from __future__ import annotations

        task_default_queue = "jobs"
        """
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", CeleriacConfigWarning)
        settings = load_source(name)
    assert settings == {"task_default_queue": "jobs"}
