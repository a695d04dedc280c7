"""The settings table against Celery's own: every key, its default and its old names."""

from __future__ import annotations

from typing import Any

import pytest
from celery.app import defaults as celery_defaults

from celeriac.compat._settings import HONOURED, NAMESPACES, OLD_NAMES, SETTINGS
from tests.celery_reference import celery_reference

# the table is held against Celery's own list of settings
pytestmark = celery_reference

CELERIAC_OWN = {
    "celeriac_key_prefix",
    "celeriac_signing_keys",
    "celeriac_sync_concurrency",
    "celeriac_worker_heartbeat",
    "celeriac_celery_queues",
    "celeriac_celery_tasks",
    "celeriac_celery_broker_url",
    "celeriac_celery_result_backend",
}


def _celery_old_names(name: str) -> set[str]:
    return {old for old, new in celery_defaults._TO_NEW_KEY.items() if new == name}


def test_every_celery_setting_is_in_the_table_with_celerys_default_and_old_names() -> None:
    wrong: list[tuple[str, Any, Any]] = []
    for name, default in celery_defaults.DEFAULTS.items():
        ours = SETTINGS[name]
        if ours.default != default or type(ours.default) is not type(default):
            wrong.append((name, ours.default, default))
        if set(ours.old) != _celery_old_names(name):
            wrong.append((name, ours.old, _celery_old_names(name)))
    assert not wrong


def test_the_only_settings_celery_lacks_are_celeriacs_own() -> None:
    assert set(SETTINGS) - set(celery_defaults.DEFAULTS) == CELERIAC_OWN


def test_celeriacs_own_settings() -> None:
    assert SETTINGS["celeriac_key_prefix"].default == "celeriac"
    assert SETTINGS["celeriac_signing_keys"].default is None
    assert all(SETTINGS[name].support == "honoured" for name in CELERIAC_OWN)


def test_old_names_lead_to_one_setting_each() -> None:
    assert len(OLD_NAMES) == sum(len(s.old) for s in SETTINGS.values())
    assert all(SETTINGS[new].name == new for new in OLD_NAMES.values())
    assert all(old.isupper() for old in OLD_NAMES)


def test_honoured_settings_exist_and_are_marked_so() -> None:
    assert set(HONOURED) <= set(SETTINGS)
    marked = {name for name, s in SETTINGS.items() if s.support == "honoured"}
    assert marked == set(HONOURED)


def test_every_setting_not_honoured_says_why() -> None:
    silent = [s.name for s in SETTINGS.values() if s.support != "honoured" and not s.note]
    assert not silent


@pytest.mark.parametrize(
    "name",
    [
        "broker_heartbeat",
        "broker_pool_limit",
        "worker_enable_remote_control",
        "task_protocol",
        "task_default_exchange",
        "task_default_delivery_mode",
        "worker_lost_wait",
        "result_persistent",
    ],
)
def test_no_effect_where_celeriac_covers_it(name: str) -> None:
    assert SETTINGS[name].support == "no_effect"


@pytest.mark.parametrize("namespace", ["event", "control", "redis"])
def test_whole_namespaces_without_effect(namespace: str) -> None:
    members = [s for s in SETTINGS.values() if s.namespace == namespace]
    assert members
    assert all(s.support == "no_effect" for s in members)


@pytest.mark.parametrize(
    "name",
    [
        "security_key",
        "security_certificate",
        "security_cert_store",
        "task_compression",
        "result_compression",
        "worker_direct",
        "database_url",
        "cassandra_servers",
        "broker_use_ssl",
    ],
)
def test_unsupported_features(name: str) -> None:
    assert SETTINGS[name].support == "unsupported"


def test_each_setting_is_in_a_namespace_of_the_docs() -> None:
    used = {s.namespace for s in SETTINGS.values()}
    assert used == set(NAMESPACES)
    assert SETTINGS["accept_content"].namespace == "general"
    assert SETTINGS["worker_pool"].namespace == "worker"
