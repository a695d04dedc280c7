"""Celery's broker and result-backend URLs, turned into the ones the core takes.

Celery spells a Sentinel deployment ``sentinel://h1:26379;sentinel://h2:26379/0`` with
the master's name in ``broker_transport_options``; the core wants
``redis+sentinel://h1:26379,h2:26379/<master>/0``. A Unix socket is
``redis+socket:///path.sock?virtual_host=0`` in Celery and ``unix:///path.sock?db=0``
for redis-py. Brokers that are not Redis cannot work and are refused here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from celeriac.core.errors import ConfigurationError

__all__ = [
    "DEFAULT_BROKER_URL",
    "ResolvedUrls",
    "ResultBackendKind",
    "core_broker_url",
    "mask_url",
    "resolve_urls",
    "result_backend_kind",
]

#: Used when broker_url is not set: Celery too defaults to a broker on this machine.
DEFAULT_BROKER_URL = "redis://localhost:6379/0"
DOCS = "docs/configuration.md"
MASK = "********"

#: Where Celery would keep results (:func:`result_backend_kind`): ``"off"`` (no
#: result_backend), ``"broker"`` (the broker's Redis), ``"other_redis"`` (another Redis)
#: or ``"other"`` (another kind of backend). celeriac keeps results with the broker, so
#: the last two mean result_backend is not followed.
ResultBackendKind = Literal["off", "broker", "other_redis", "other"]

_SENTINEL_PORT = 26379
_CERT_REQS = {
    "cert_required": "required",
    "cert_optional": "optional",
    "cert_none": "none",
    "required": "required",
    "optional": "optional",
    "none": "none",
}
# result_backend schemes (and bare aliases) that name a Redis server
_REDIS_BACKENDS = frozenset(
    ("redis", "rediss", "sentinel", "socket", "redis+socket", "unix", "redis+sentinel")
)


@dataclass(frozen=True)
class ResolvedUrls:
    """The broker URL for the core, and where results would have gone under Celery."""

    broker: str
    results: ResultBackendKind


def resolve_urls(settings: Mapping[str, Any]) -> ResolvedUrls:
    """Read ``broker_url`` and ``result_backend`` (and their transport options) from
    ``settings``: a :class:`ConfigurationError` if the broker cannot work."""
    broker_options = settings["broker_transport_options"] or {}
    broker = core_broker_url(settings["broker_url"], broker_options)
    results = result_backend_kind(
        settings["result_backend"],
        settings["broker_url"],
        broker_transport_options=broker_options,
        backend_transport_options=settings["result_backend_transport_options"] or {},
    )
    return ResolvedUrls(broker, results)


def core_broker_url(broker_url: Any, transport_options: Mapping[str, Any] | None = None) -> str:
    """The core's URL for a Celery ``broker_url`` (a string, or a list of one).

    ``redis://``, ``rediss://``, ``unix://`` and ``memory://`` pass through (Celery's
    ``ssl_cert_reqs=CERT_REQUIRED`` becomes redis-py's ``required``); ``sentinel://``
    and ``redis+socket://`` are rewritten; anything else raises ConfigurationError.
    """
    url = _single_url(broker_url)
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    convert = _CONVERTERS.get(scheme)
    if convert is None:
        raise ConfigurationError(
            f"broker_url {mask_url(url)!r} cannot work: celeriac runs on Redis "
            f"(redis://, rediss://, sentinel://, redis+socket://, or memory:// for tests): "
            f"see {DOCS}"
        )
    if ";" in url and scheme != "sentinel":
        raise _several_urls(url)
    return convert(url, transport_options or {})


def _single_url(broker_url: Any) -> str:
    if broker_url is None or broker_url == "":
        return DEFAULT_BROKER_URL
    if isinstance(broker_url, str):
        return broker_url.strip()
    if isinstance(broker_url, Sequence) and len(broker_url) == 1:
        return _single_url(broker_url[0])
    if isinstance(broker_url, Sequence):
        raise _several_urls(";".join(map(str, broker_url)))
    raise ConfigurationError(f"broker_url must be a string, not {type(broker_url).__name__}")


def _several_urls(url: str) -> ConfigurationError:
    return ConfigurationError(
        f"broker_url {mask_url(url)!r} lists several brokers to fail over between; "
        f"celeriac takes one Redis URL (for failover use Sentinel: sentinel://...): see {DOCS}"
    )


def _as_is(url: str, options: Mapping[str, Any]) -> str:
    return url


def _rediss(url: str, options: Mapping[str, Any]) -> str:
    """TLS: Celery's ``ssl_cert_reqs`` spellings, in the one redis-py reads."""
    parts = urlsplit(url)
    query = [
        (key, _cert_reqs(value, url) if key == "ssl_cert_reqs" else value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _cert_reqs(value: str, url: str) -> str:
    try:
        return _CERT_REQS[value.lower()]
    except KeyError:
        raise ConfigurationError(
            f"ssl_cert_reqs={value!r} in {mask_url(url)!r}: use required, optional or none"
        ) from None


def _sentinel(url: str, options: Mapping[str, Any]) -> str:
    """``sentinel://[:pw@]h1:26379;sentinel://h2:26379[/db]`` and
    ``master_name`` -> ``redis+sentinel://[:pw@]h1:26379,h2:26379/<master>/<db>``."""
    master = options.get("master_name")
    if not master:
        raise ConfigurationError(
            f"a sentinel:// broker_url needs the master's name: "
            f"broker_transport_options={{'master_name': 'mymaster'}} ({DOCS})"
        )
    parts = [part.strip() for part in url.split(";") if part.strip()]
    nodes = ",".join(_sentinel_node(part) for part in parts)
    # like Celery, the credentials and the database come from the first address
    first = urlsplit(parts[0])
    userinfo = first.netloc.rpartition("@")[0]
    database = first.path.strip("/") or "0"
    if not database.isdigit():
        raise ConfigurationError(f"the database in {mask_url(url)!r} is not a number")
    auth = f"{userinfo}@" if userinfo else ""
    return f"redis+sentinel://{auth}{nodes}/{quote(str(master), safe='')}/{database}"


def _sentinel_node(part: str) -> str:
    if not part.lower().startswith("sentinel://"):
        raise ConfigurationError(
            f"each address of a Sentinel broker_url starts with sentinel://: got {mask_url(part)!r}"
        )
    parts = urlsplit(part)
    if parts.query:
        raise ConfigurationError(
            f"options in a Sentinel URL ({mask_url(part)!r}) are not supported: see {DOCS}"
        )
    try:
        port = parts.port or _SENTINEL_PORT
    except ValueError:
        raise ConfigurationError(f"bad port in Sentinel URL {mask_url(part)!r}") from None
    return f"{parts.hostname or 'localhost'}:{port}"


def _socket(url: str, options: Mapping[str, Any]) -> str:
    """``redis+socket:///path.sock?virtual_host=1`` -> ``unix:///path.sock?db=1``."""
    parts = urlsplit(url)
    if not parts.path:
        raise ConfigurationError(f"no socket path in {mask_url(url)!r}")
    query = [
        ("db" if key == "virtual_host" else key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    # (urlunsplit would drop the empty host: "unix:/path")
    return f"unix://{parts.netloc}{parts.path}" + (f"?{urlencode(query)}" if query else "")


_CONVERTERS: Mapping[str, Callable[[str, Mapping[str, Any]], str]] = {
    "redis": _as_is,
    "rediss": _rediss,
    "unix": _as_is,
    "redis+sentinel": _as_is,
    "redis+cluster": _as_is,
    "memory": _as_is,
    "sentinel": _sentinel,
    "redis+socket": _socket,
    "socket": _socket,
}


def result_backend_kind(
    result_backend: Any,
    broker_url: Any,
    *,
    broker_transport_options: Mapping[str, Any] | None = None,
    backend_transport_options: Mapping[str, Any] | None = None,
) -> ResultBackendKind:
    """Where Celery would keep results, next to the broker: see :data:`ResultBackendKind`."""
    if result_backend is None or result_backend in ("", "disabled"):
        return "off"
    if not isinstance(result_backend, str):
        return "other"  # a backend class
    scheme = result_backend.partition("://")[0].lower()
    if scheme not in _REDIS_BACKENDS:
        return "other"
    if "://" not in result_backend:  # the bare alias: a Redis located by redis_* settings
        return "other_redis"
    options = {**(broker_transport_options or {}), **(backend_transport_options or {})}
    try:
        backend = _server(core_broker_url(result_backend, options))
        broker = _server(core_broker_url(broker_url, broker_transport_options))
    except (ConfigurationError, ValueError):  # ValueError: a bad port
        return "other_redis"
    return "broker" if backend == broker else "other_redis"


def _server(url: str) -> tuple[Any, ...]:
    """What identifies the Redis database a core URL points at (not the credentials)."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    path = [part for part in parts.path.split("/") if part]
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix":
        return ("unix", parts.path, query.get("db", "0"))
    if parts.scheme == "redis+sentinel":
        return ("sentinel", frozenset(hosts.split(",")), *path)
    if parts.scheme in ("redis+cluster", "memory"):
        return (parts.scheme, frozenset(hosts.split(",")))
    database = path[0] if path else query.get("db", "0")
    return ("redis", (parts.hostname or "localhost").lower(), parts.port or 6379, database)


def mask_url(url: str) -> str:
    """``url`` with every password hidden, also in Celery's ``a;b`` lists. When the URL
    is ambiguous, more is hidden rather than less."""
    return ";".join(_mask_one(part) for part in url.split(";"))


def _mask_one(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    # the last "@": a password may itself hold "@" or "/"
    userinfo, _, hosts = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if not colon:
        return url
    return f"{scheme}://{user}:{MASK}@{hosts}"
