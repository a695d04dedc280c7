"""Celery's broker and result-backend URLs, as the core takes them."""

from __future__ import annotations

from typing import Any

import pytest
from redis.connection import parse_url

from celeriac.compat._config_urls import (
    DEFAULT_BROKER_URL,
    ResolvedUrls,
    core_broker_url,
    mask_url,
    resolve_urls,
    result_backend_kind,
)
from celeriac.core.broker._connect import parse
from celeriac.core.errors import ConfigurationError
from tests.celery_reference import celery_reference

try:  # Celery 5.3 has none: the comparison that needs it is then skipped
    from celery.app.utils import sanitize_url
except ImportError:
    sanitize_url = None

MASTER = {"master_name": "mymaster"}


# -- broker_url ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "redis://:secret@redis.example:6380/3",
        "redis://user:secret@redis.example/1",
        "redis://",
        "unix:///run/redis.sock?db=2",
        "redis+sentinel://h1:26379,h2:26379/mymaster/0",
        "redis+cluster://h1:7000,h2:7001",
        "memory://",
    ],
)
def test_the_cores_own_forms_pass_through(url: str) -> None:
    assert core_broker_url(url) == url


def test_no_broker_url_means_redis_on_this_machine() -> None:
    assert core_broker_url(None) == core_broker_url("") == DEFAULT_BROKER_URL
    assert DEFAULT_BROKER_URL == "redis://localhost:6379/0"


def test_a_list_of_one_url_is_that_url() -> None:
    assert core_broker_url(["redis://h:6379/1"]) == "redis://h:6379/1"


@pytest.mark.parametrize("url", [["redis://a", "redis://b"], "redis://a:6379/0;redis://b:6379/0"])
def test_several_urls_to_fail_over_between_are_refused(url: Any) -> None:
    with pytest.raises(ConfigurationError, match="Sentinel"):
        core_broker_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:hunter2@localhost:5672//",
        "pyamqp://localhost",
        "sqs://",
        "filesystem://",
        "sqla+postgresql://db/x",
        "localhost:6379",
    ],
)
def test_brokers_that_are_not_redis_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        core_broker_url(url)
    message = str(caught.value)
    assert "celeriac runs on Redis" in message
    assert "docs/configuration.md" in message
    assert "hunter2" not in message


def test_a_broker_url_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be a string"):
        core_broker_url(6379)


@pytest.mark.parametrize(
    ("celery", "redis_py"),
    [("CERT_REQUIRED", "required"), ("CERT_OPTIONAL", "optional"), ("cert_none", "none")],
)
def test_rediss_certificate_requirements_in_redis_pys_spelling(celery: str, redis_py: str) -> None:
    url = core_broker_url(f"rediss://:pw@h:6380/0?ssl_cert_reqs={celery}&ssl_ca_certs=/ca.pem")
    assert url == f"rediss://:pw@h:6380/0?ssl_cert_reqs={redis_py}&ssl_ca_certs=%2Fca.pem"
    options = parse_url(url)
    assert options["ssl_cert_reqs"] == redis_py
    assert options["ssl_ca_certs"] == "/ca.pem"


def test_rediss_with_a_bad_certificate_requirement_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="required, optional or none"):
        core_broker_url("rediss://h:6380/0?ssl_cert_reqs=sometimes")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "sentinel://h1:26379;sentinel://h2:26380",
            "redis+sentinel://h1:26379,h2:26380/mymaster/0",
        ),
        (
            "sentinel://:secret@h1:26379/2;sentinel://:secret@h2:26379/2",
            "redis+sentinel://:secret@h1:26379,h2:26379/mymaster/2",
        ),
        ("sentinel://h1", "redis+sentinel://h1:26379/mymaster/0"),
        (
            "sentinel://h1:26379/1; sentinel://h2:26379/1;",
            "redis+sentinel://h1:26379,h2:26379/mymaster/1",
        ),
    ],
)
def test_celerys_sentinel_urls(url: str, expected: str) -> None:
    assert core_broker_url(url, MASTER) == expected


def test_a_sentinel_url_reaches_the_core_as_celery_meant_it() -> None:
    core = core_broker_url("sentinel://:pw@10.0.0.1:26379/3;sentinel://10.0.0.2:26380", MASTER)
    endpoint = parse(core)
    assert endpoint.kind == "sentinel"
    assert endpoint.nodes == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (endpoint.master, endpoint.db, endpoint.password) == ("mymaster", 3, "pw")


@pytest.mark.parametrize(
    ("url", "options", "error"),
    [
        ("sentinel://h1:26379", {}, "master_name"),
        ("sentinel://h1:26379;redis://h2:6379", MASTER, "starts with sentinel://"),
        ("sentinel://h1:26379/x", MASTER, "not a number"),
        ("sentinel://h1:port", MASTER, "bad port"),
        ("sentinel://h1:26379?ssl=1", MASTER, "not supported"),
    ],
)
def test_sentinel_urls_that_cannot_work(url: str, options: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigurationError, match=error):
        core_broker_url(url, options)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+socket:///run/redis.sock", "unix:///run/redis.sock"),
        ("redis+socket:///run/redis.sock?virtual_host=3", "unix:///run/redis.sock?db=3"),
        ("socket://:pw@/run/redis.sock?virtual_host=1", "unix://:pw@/run/redis.sock?db=1"),
    ],
)
def test_celerys_unix_socket_urls(url: str, expected: str) -> None:
    assert core_broker_url(url) == expected
    assert parse_url(expected)["path"] == "/run/redis.sock"


def test_a_socket_url_without_a_path_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no socket path"):
        core_broker_url("redis+socket://")


# -- result_backend --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, "", "disabled"])
def test_no_result_backend_means_results_off(backend: Any) -> None:
    assert result_backend_kind(backend, "redis://localhost:6379/0") == "off"


@pytest.mark.parametrize(
    ("backend", "broker"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://localhost", "redis://localhost:6379/0"),
        ("redis://", None),
        ("redis://:pw@Redis.example:6379/1", "redis://other-user:pw2@redis.example/1"),
        ("redis://h:6379?db=2", "redis://h:6379/2"),
        ("redis+socket:///run/r.sock?virtual_host=1", "unix:///run/r.sock?db=1"),
        ("sentinel://h2:26379;sentinel://h1:26379/1", "sentinel://h1:26379;sentinel://h2:26379/1"),
        ("rediss://h:6380/0?ssl_cert_reqs=CERT_REQUIRED", "rediss://h:6380/0"),
    ],
)
def test_a_result_backend_on_the_brokers_redis(backend: str, broker: str | None) -> None:
    assert result_backend_kind(backend, broker, broker_transport_options=MASTER) == "broker"


@pytest.mark.parametrize(
    "backend",
    [
        "redis://localhost:6379/1",
        "redis://elsewhere:6379/0",
        "redis://localhost:6380/0",
        "redis",  # Celery's alias: a Redis found through the redis_* settings
        "sentinel://h1:26379",  # no master name anywhere: not the broker's
        "redis://localhost:port/0",
    ],
)
def test_a_result_backend_on_another_redis(backend: str) -> None:
    assert result_backend_kind(backend, "redis://localhost:6379/0") == "other_redis"


def test_a_sentinel_backend_names_its_master_in_its_own_options() -> None:
    kind = result_backend_kind(
        "sentinel://h1:26379/0",
        "sentinel://h1:26379/0",
        broker_transport_options=MASTER,
        backend_transport_options={"master_name": "results"},
    )
    assert kind == "other_redis"


@pytest.mark.parametrize(
    "backend",
    ["rpc://", "db+postgresql://u:p@db/x", "django-db", "cache+memory://", "mongodb://m", object],
)
def test_other_kinds_of_result_backend(backend: Any) -> None:
    assert result_backend_kind(backend, "redis://localhost:6379/0") == "other"


def settings(**values: Any) -> dict[str, Any]:
    """What resolve_urls reads of app.conf, with Celery's defaults."""
    defaults = {
        "broker_url": None,
        "broker_transport_options": {},
        "result_backend": None,
        "result_backend_transport_options": {},
    }
    return {**defaults, **values}


def test_resolve_urls_reads_the_settings() -> None:
    conf = settings(
        broker_url="sentinel://h1:26379",
        broker_transport_options=MASTER,
        result_backend="sentinel://h1:26379",
    )
    assert resolve_urls(conf) == ResolvedUrls("redis+sentinel://h1:26379/mymaster/0", "broker")
    assert resolve_urls(settings()) == ResolvedUrls(DEFAULT_BROKER_URL, "off")
    other = settings(broker_url="redis://a:6379/0", result_backend="rpc://")
    assert resolve_urls(other) == ResolvedUrls("redis://a:6379/0", "other")


def test_resolve_urls_refuses_a_broker_that_cannot_work() -> None:
    with pytest.raises(ConfigurationError):
        resolve_urls(settings(broker_url="amqp://localhost"))


# -- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://:secret@localhost:6379/0",
        "redis://user:secret@localhost:6379/0",
        "redis://localhost:6379/0",
        "redis://user@localhost/0",
        "sentinel://:secret@h1:26379;sentinel://:secret@h2:26379/0",
        "db+postgresql://scott:tiger@localhost/mydatabase",
        "not a url",
    ],
)
@celery_reference
def test_mask_url_hides_passwords_as_celery_does(url: str) -> None:
    assert mask_url(url) == sanitize_url(url)


@pytest.mark.parametrize("password", ["p@ss", "pa/ss", "p:a?s#s"])
def test_mask_url_never_shows_a_password_it_cannot_parse(password: str) -> None:
    masked = mask_url(f"redis://user:{password}@localhost:6379/0")
    assert password not in masked
    assert masked.startswith("redis://user:********@")
