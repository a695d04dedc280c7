"""``Settings`` (``app.conf``): reading, writing, old names, warnings, reports; where the
behaviour is Celery's, side by side with Celery's own ``app.conf``."""

from __future__ import annotations

import copy
import inspect
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from celery.app import defaults as celery_defaults

from celeriac.compat import config
from celeriac.compat.config import DEFAULTS, CeleriacConfigWarning, Settings
from tests.celery_reference import celery_reference

ENVIRONMENT = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)


@pytest.fixture(autouse=True)
def _no_config_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def celery_conf(**settings: Any) -> Any:
    app = Celery(set_as_current=False)
    app.conf.update(settings)
    return app.conf.finalize()


@pytest.fixture
def no_config_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CeleriacConfigWarning)
        yield


def assert_no_warning(action: Any) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    assert [str(w.message) for w in caught] == []


# -- reading, as Celery reads ---------------------------------------------------------------


@celery_reference
def test_every_setting_reads_as_in_celery_when_unset() -> None:
    # (Celery's derived values, such as task_default_exchange falling back to the
    # default queue, come only through attributes; ours also through items)
    ours, theirs = Settings(), celery_conf()
    differ = [
        name
        for name in celery_defaults.DEFAULTS
        if not getattr(ours, name) == ours[name] == getattr(theirs, name)
    ]
    assert not differ


@celery_reference
def test_every_old_name_reads_its_setting_as_in_celery() -> None:
    ours, theirs = Settings(), celery_conf()
    old_names = celery_defaults._TO_NEW_KEY
    differ = [
        old
        for old, new in old_names.items()
        if not getattr(ours, old) == ours[old] == getattr(theirs, new) == theirs[old]
        and new not in ("task_default_exchange", "task_default_routing_key")  # derived
    ]
    assert differ == []
    assert ours.CELERY_DEFAULT_EXCHANGE == ours.task_default_exchange == "celery"
    assert all(old in ours for old in old_names)


def test_unknown_names_raise_as_in_celery() -> None:
    ours, theirs = Settings(), celery_conf()
    with pytest.raises(AttributeError) as ours_error:
        _ = ours.no_such_setting
    with pytest.raises(AttributeError) as theirs_error:
        _ = theirs.no_such_setting
    assert str(ours_error.value) == str(theirs_error.value)
    with pytest.raises(KeyError) as ours_key:
        _ = ours["no_such_setting"]
    with pytest.raises(KeyError) as theirs_key:
        _ = theirs["no_such_setting"]
    assert str(ours_key.value) == str(theirs_key.value)
    with pytest.raises(KeyError):
        _ = ours[3]  # type: ignore[index]


@pytest.mark.parametrize(
    "key", ["broker_url", "CELERY_ALWAYS_EAGER", "CELERYD_CONCURRENCY", "nope", "celery_acks_late"]
)
@celery_reference
def test_contains_as_in_celery(key: str) -> None:
    assert (key in Settings()) == (key in celery_conf())


def test_defaults_belong_to_each_settings_object() -> None:
    first, second = Settings(), Settings()
    first.beat_schedule["nightly"] = {"task": "t", "schedule": 60}
    assert second.beat_schedule == {}
    assert DEFAULTS["beat_schedule"] == {}
    assert first.beat_schedule == {"nightly": {"task": "t", "schedule": 60}}


def test_derived_settings_read_as_in_celery() -> None:
    ours = Settings(task_default_queue="jobs", broker_url="redis://h/1")
    theirs = celery_conf(task_default_queue="jobs", broker_url="redis://h/1")
    for name in (
        "task_default_exchange",
        "task_default_routing_key",
        "broker_read_url",
        "broker_write_url",
    ):
        assert getattr(ours, name) == getattr(theirs, name)
    ours.task_default_exchange = "ex"
    assert ours.task_default_exchange == "ex"
    assert ours.task_default_routing_key == "jobs"


def test_environment_wins_over_configuration_as_in_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://from-env:6379/2")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://results-env/3")
    ours = Settings(broker_url="redis://configured/0", result_backend="redis://configured/1")
    theirs = celery_conf(broker_url="redis://configured/0", result_backend="redis://configured/1")
    for name in ("broker_url", "broker_read_url", "broker_write_url", "result_backend"):
        assert getattr(ours, name) == getattr(theirs, name)
    assert ours["broker_url"] == "redis://from-env:6379/2"
    assert ours.changes["broker_url"] == "redis://configured/0"


def test_resolve_urls_sees_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = Settings(broker_url="redis://a:6379/0", result_backend="redis://a:6379/0")
    assert config.resolve_urls(conf) == config.ResolvedUrls("redis://a:6379/0", "broker")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://from-env:6379/0")
    resolved = config.resolve_urls(conf)
    assert resolved == config.ResolvedUrls("redis://from-env:6379/0", "other_redis")


def test_an_empty_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "")
    assert Settings(broker_url="redis://configured/0").broker_url == "redis://configured/0"


# -- writing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("CELERY_ALWAYS_EAGER", "task_always_eager", True),
        ("CELERYD_CONCURRENCY", "worker_concurrency", 3),
        ("CELERYD_PREFETCH_MULTIPLIER", "worker_prefetch_multiplier", 1),
        ("BROKER_URL", "broker_url", "redis://h:6379/0"),
        ("CELERY_RESULT_BACKEND", "result_backend", "redis://h:6379/1"),
        ("CELERY_TASK_RESULT_EXPIRES", "result_expires", 60),
        ("CELERYD_TASK_TIME_LIMIT", "task_time_limit", 30),
        ("CELERY_SEND_EVENTS", "worker_send_task_events", True),
    ],
)
@celery_reference
def test_old_names_write_their_setting_as_in_celery(old: str, new: str, value: Any) -> None:
    ours, theirs = Settings(), celery_conf()
    ours[old] = value
    theirs[old] = value
    assert ours[new] == theirs[new] == value
    assert getattr(ours, old) == getattr(theirs, old) == value
    assert dict(ours.changes) == {new: value}


def test_attribute_and_item_access_are_the_same_setting() -> None:
    conf = Settings()
    conf.task_acks_late = True
    assert conf["task_acks_late"] is True
    conf["task_track_started"] = True
    assert conf.task_track_started is True
    assert "task_track_started" in dir(conf)


def test_update_takes_a_mapping_pairs_and_keywords() -> None:
    conf = Settings()
    conf.update({"task_acks_late": True}, worker_concurrency=2)
    conf.update([("task_default_queue", "q")])
    conf.update()
    assert dict(conf.changes) == {
        "task_acks_late": True,
        "worker_concurrency": 2,
        "task_default_queue": "q",
    }


def test_get_and_setdefault() -> None:
    conf = Settings()
    assert conf.get("task_default_queue") == "celery"
    assert conf.get("nope", 5) == 5
    assert conf.setdefault("task_default_queue", "other") == "celery"
    assert not conf.value_set_for("task_default_queue")
    with pytest.warns(CeleriacConfigWarning):
        assert conf.setdefault("my_extra", 1) == 1
    assert conf.my_extra == 1


def test_changes_is_what_was_set_and_read_only() -> None:
    conf = Settings(task_acks_late=False)
    assert dict(conf.changes) == {"task_acks_late": False}
    assert conf.value_set_for("task_acks_late")
    assert conf.value_set_for("CELERY_ACKS_LATE")
    with pytest.raises(TypeError):
        conf.changes["x"] = 1  # type: ignore[index]


def test_unsetting_brings_the_default_back() -> None:
    conf = Settings(task_default_queue="a", worker_concurrency=2, task_acks_late=True)
    del conf.CELERY_DEFAULT_QUEUE
    assert conf.task_default_queue == "celery"
    assert conf.pop("worker_concurrency") == 2
    assert conf.pop("worker_concurrency", "gone") == "gone"
    with pytest.raises(KeyError):
        conf.pop("worker_concurrency")
    with pytest.raises(KeyError):
        del conf["task_default_queue"]
    assert conf.popitem() == ("task_acks_late", True)
    conf.update(task_acks_late=True)
    conf.clear()
    assert conf.changes == {}
    assert conf.task_acks_late is False


def test_iteration_covers_every_setting_and_extras_once(no_config_warnings: None) -> None:
    conf = Settings(task_acks_late=True, my_extra=1)
    names = list(conf)
    assert len(names) == len(set(names)) == len(conf) == len(DEFAULTS) + 1
    assert set(names) == set(DEFAULTS) | {"my_extra"}
    assert dict(conf.items())["task_acks_late"] is True


def test_copies_are_independent(no_config_warnings: None) -> None:
    conf = Settings(namespace="CELERY", task_acks_late=True, my_extra=1)
    for other in (conf.copy(), copy.copy(conf), copy.deepcopy(conf)):
        assert dict(other.changes) == dict(conf.changes)
        other.task_acks_late = False
        assert conf.task_acks_late is True
        other.CELERY_WORKER_CONCURRENCY = 4  # the namespace came along
        assert other.worker_concurrency == 4
        assert_no_warning(lambda other=other: other.update(my_extra=2))  # warned already


# -- namespaces -----------------------------------------------------------------------------


def test_a_namespace_accepts_prefixed_names() -> None:
    conf = Settings(namespace="CELERY")
    conf.update(CELERY_TASK_ALWAYS_EAGER=True, CELERY_BROKER_URL="redis://h/0")
    assert conf.task_always_eager is True
    assert conf.CELERY_BROKER_URL == conf.broker_url == "redis://h/0"
    conf.CELERY_ACKS_LATE = True  # an old name keeps its meaning under the namespace
    assert conf.task_acks_late is True
    assert set(conf.changes) == {"task_always_eager", "broker_url", "task_acks_late"}


def test_a_lower_case_namespace_and_dropping_it(no_config_warnings: None) -> None:
    conf = Settings(namespace="celery_")
    conf.celery_task_acks_late = True
    assert conf.task_acks_late is True
    conf.set_namespace(None)
    conf.celery_task_track_started = True
    assert conf.task_track_started is False
    assert conf.celery_task_track_started is True


def test_an_unknown_prefixed_name_is_read_without_the_prefix_as_in_celery() -> None:
    app = Celery(set_as_current=False, namespace="CELERY")
    app.conf.CELERY_MY_OPTION = 1
    conf = Settings(namespace="CELERY")
    with pytest.warns(CeleriacConfigWarning, match="CELERY_MY_OPTION"):
        conf.CELERY_MY_OPTION = 1
    assert conf.my_option == app.conf.my_option == 1


# -- warnings -------------------------------------------------------------------------------


def test_an_unknown_setting_warns_with_a_close_match_and_is_kept() -> None:
    conf = Settings()
    with pytest.warns(CeleriacConfigWarning) as caught:
        conf.task_alwyas_eager = True
    message = str(caught[0].message)
    assert "'task_alwyas_eager'" in message
    assert "did you mean 'task_always_eager'" in message
    assert "docs/configuration.md" in message
    assert caught[0].filename == __file__  # the line that set it
    assert conf.task_alwyas_eager is True
    assert conf.task_always_eager is False


def test_an_unknown_old_style_name_is_matched_against_old_names() -> None:
    with pytest.warns(CeleriacConfigWarning, match="did you mean 'CELERY_ACKS_LATE'"):
        Settings(CELERY_ACKS_LAET=True)


def test_an_unknown_name_without_a_close_match_has_no_hint() -> None:
    with pytest.warns(CeleriacConfigWarning) as caught:
        Settings(zzz=1)
    assert "did you mean" not in str(caught[0].message)


def test_an_unknown_celeriac_setting_warns() -> None:
    with pytest.warns(CeleriacConfigWarning, match="did you mean 'celeriac_signing_keys'"):
        Settings(celeriac_signing_key="secret")


def test_each_setting_warns_once_per_settings_object() -> None:
    conf = Settings()
    with pytest.warns(CeleriacConfigWarning):
        conf.my_extra = 1
    assert_no_warning(lambda: conf.update(my_extra=2))
    with pytest.warns(CeleriacConfigWarning):
        Settings().my_extra = 1


def test_other_upper_case_names_are_kept_quietly() -> None:
    conf = Settings()
    assert_no_warning(lambda: conf.update(DEBUG=True, INSTALLED_APPS=["a"]))
    assert conf.DEBUG is True
    with pytest.warns(CeleriacConfigWarning, match="CELERY_NO_SUCH"):
        conf.CELERY_NO_SUCH = 1


def test_an_unsupported_setting_warns_when_it_is_not_its_default() -> None:
    conf = Settings()
    assert_no_warning(lambda: conf.update(task_compression=None))
    with pytest.warns(CeleriacConfigWarning) as caught:
        conf.CELERY_MESSAGE_COMPRESSION = "gzip"
    message = str(caught[0].message)
    assert "task_compression (CELERY_MESSAGE_COMPRESSION)" in message
    assert "not supported" in message
    assert "compress" in message  # the note: what is not supported
    assert "docs/configuration.md" in message
    assert conf.task_compression == "gzip"
    assert_no_warning(lambda: conf.update(task_compression="bz2"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("broker_heartbeat", 10),  # no effect
        ("task_acks_late", True),  # honoured
        ("celeriac_signing_keys", ["k" * 32]),
        ("result_expires", timedelta(hours=1)),
    ],
)
def test_known_settings_do_not_warn(name: str, value: Any) -> None:
    assert_no_warning(lambda: Settings({name: value}))


def test_a_value_that_cannot_be_compared_counts_as_set() -> None:
    class Odd:
        def __ne__(self, other: object) -> bool:
            raise TypeError("no comparing")

    with pytest.warns(CeleriacConfigWarning, match="worker_direct"):
        Settings(worker_direct=Odd())


# -- reports --------------------------------------------------------------------------------


def test_humanize_lists_what_was_set_with_secrets_hidden() -> None:
    conf = Settings(
        broker_url="redis://user:hunter2@redis.example:6379/0",
        result_backend="redis://:hunter2@redis.example:6379/1",
        celeriac_signing_keys=["hunter2-hunter2-hunter2-hunter2"],
        broker_transport_options={"master_name": "mymaster", "sentinel_kwargs": {"password": "x"}},
        task_default_queue="jobs",
    )
    text = conf.humanize()
    assert "hunter2" not in text
    assert "broker_url: 'redis://user:********@redis.example:6379/0'" in text
    assert "celeriac_signing_keys: '********'" in text
    assert "'master_name': 'mymaster'" in text
    assert "task_default_queue: 'jobs'" in text
    assert "task_acks_late" not in text
    assert "hunter2" not in repr(conf)


def test_humanize_lines_match_celerys() -> None:
    settings = {
        "result_backend": "redis://:hunter2@localhost:6379/1",
        "task_default_queue": "jobs",
        "task_acks_late": True,
        "worker_concurrency": 4,
    }
    theirs = set(celery_conf(**settings).humanize().splitlines())
    ours = set(Settings(settings).humanize().splitlines())
    assert ours <= theirs


def test_table_with_defaults_has_every_setting_sorted() -> None:
    conf = Settings(task_default_queue="jobs", security_key_password=None)
    table = conf.table(with_defaults=True)
    assert list(table) == sorted(DEFAULTS)
    assert table["task_default_queue"] == "jobs"
    assert table["security_key_password"] is None  # unset secrets show as unset
    assert table["task_default_routing_key"] == "jobs"  # not a secret, and derived
    assert table["celeriac_key_prefix"] == "celeriac"
    assert conf.table() == {"security_key_password": None, "task_default_queue": "jobs"}


def test_urls_in_lists_are_masked_too() -> None:
    conf = Settings(broker_url=["redis://:pw@a:6379/0", "redis://b"])
    assert conf.table()["broker_url"] == ["redis://:********@a:6379/0", "redis://b"]
    conf = Settings(imports=("a", "b"))
    assert conf.table()["imports"] == ("a", "b")


def test_public_names_are_sorted_documented_and_complete() -> None:
    names = list(config.__all__)

    def key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)

    assert names == sorted(names, key=key)
    code = [getattr(config, n) for n in names]
    code = [obj for obj in code if inspect.isfunction(obj) or inspect.isclass(obj)]
    assert [obj for obj in code if not obj.__doc__] == []
