"""Every setting Celery 5.x knows, plus celeriac's own, and what celeriac does with each.

A :class:`Setting` records the new (lower-case) name, the old upper-case name(s) Celery
still reads, the default, and the support: ``"honoured"`` (celeriac acts on it),
``"no_effect"`` (accepted and ignored: celeriac's design already covers it, or it means
nothing on Redis) or ``"unsupported"`` (a feature celeriac does not have: setting it
warns). ``docs/configuration.md`` is generated from this table
(``scripts/gen-config-docs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

__all__ = [
    "HONOURED",
    "NAMESPACES",
    "NO_EFFECT",
    "OLD_NAMES",
    "SETTINGS",
    "UNSUPPORTED",
    "Setting",
    "Support",
]

Support = Literal["honoured", "no_effect", "unsupported"]
NO_EFFECT: Support = "no_effect"
UNSUPPORTED: Support = "unsupported"

#: The settings the Celery façade acts on, each with a short note on how (empty: as
#: Celery does). The one place to edit when the façade wires another setting.
HONOURED: Mapping[str, str] = {
    "accept_content": "",
    "beat_max_loop_interval": (
        "the longest sleep between `celeriac beat`'s passes (default 5 s; `--max-interval`)"
    ),
    "beat_schedule": (
        "run by `celeriac beat` or `worker -B` on celeriac's scheduler: crontab, solar, "
        "schedule, timedelta or seconds; each tick is sent once however many schedulers "
        "run (docs/periodic.md)"
    ),
    "broker_transport_options": "`master_name` names the Sentinel master (see URLs above)",
    "broker_url": "Redis or `memory://` (see URLs above)",
    "celeriac_key_prefix": "the prefix of every Redis key celeriac writes",
    "celeriac_signing_keys": (
        "HMAC signing keys: the first signs, all of them verify; "
        "unsigned or tampered messages are refused"
    ),
    "celeriac_sync_concurrency": (
        "plain-function tasks a worker runs at once when worker_concurrency is unset"
    ),
    "celeriac_celery_queues": (
        "Celery's queues a worker also reads (`--celery-queues`): Celery producers' tasks "
        "run in celeriac, their results where Celery reads them (docs/migration.md)"
    ),
    "celeriac_celery_tasks": (
        "names or glob patterns of tasks sent to Celery workers as Celery messages "
        "(docs/migration.md)"
    ),
    "celeriac_celery_broker_url": "the Redis of Celery's queues (default: broker_url)",
    "celeriac_celery_result_backend": (
        "where Celery's results are read and written (default: result_backend when it is "
        "Redis, else the broker)"
    ),
    "celeriac_worker_heartbeat": (
        "seconds between a worker's heartbeats; a worker silent for three of them is "
        "taken for dead and its tasks run again elsewhere (docs/delivery.md)"
    ),
    "imports": "",
    "include": "",
    "result_backend": "results are kept with the broker (see URLs above)",
    "result_expires": "",
    "result_extended": "",
    "result_serializer": "must be task_serializer: one codec signs and encodes both (warns)",
    "task_allow_error_cb_on_chord_header": "",
    "task_always_eager": "",
    "task_annotations": "",
    "task_create_missing_queues": "",
    "task_default_priority": "",
    "task_default_queue": "",
    "task_default_rate_limit": "",
    "task_eager_propagates": "",
    "task_ignore_result": "",
    "task_publish_retry": "",
    "task_publish_retry_policy": "",
    "task_queues": "queue names only: exchanges, routing keys and bindings are not used",
    "task_routes": "",
    "task_serializer": "",
    "task_soft_time_limit": "",
    "task_store_eager_result": "",
    "task_time_limit": "",
    "task_track_started": "",
    "timezone": "",
    "worker_concurrency": "",
    "worker_disable_rate_limits": "",
    "worker_hijack_root_logger": "",
    "worker_log_format": "",
    "worker_max_memory_per_child": "",
    "worker_max_tasks_per_child": "",
    "worker_pool": "",
    "worker_prefetch_multiplier": "",
    "worker_send_task_events": "",
    "worker_task_log_format": "",
}

#: Title of each namespace in the docs, in the order they are shown. A setting belongs
#: to the namespace its name starts with; the rest are "general".
NAMESPACES: Mapping[str, str] = {
    "general": "General",
    "broker": "Broker",
    "result": "Results",
    "task": "Tasks",
    "worker": "Worker",
    "beat": "Beat (periodic tasks)",
    "celeriac": "celeriac's own settings",
    "event": "Events",
    "control": "Remote control",
    "redis": "Redis result backend",
    "security": "Message signing with certificates",
    "cache": "Cache result backend",
    "database": "SQLAlchemy result backend",
    "mongodb": "MongoDB result backend",
    "cassandra": "Cassandra result backend",
    "elasticsearch": "Elasticsearch result backend",
    "couchbase": "Couchbase result backend",
    "arangodb": "ArangoDB result backend",
    "cosmosdbsql": "Azure Cosmos DB result backend",
    "azureblockblob": "Azure Block Blob result backend",
    "s3": "S3 result backend",
    "gcs": "Google Cloud Storage result backend",
}

# How Celery spelled a namespace's settings before 4.0 (``task_acks_late`` was
# ``CELERY_ACKS_LATE``): the part of the new name to drop, and the old prefix. Namespaces
# not listed were spelled as the new name in upper case (``broker_url``: ``BROKER_URL``).
_OLD_SPELLING: Mapping[str, tuple[str, str]] = {
    "task": ("task_", "CELERY_"),
    "worker": ("worker_", "CELERYD_"),
    "beat": ("beat_", "CELERYBEAT_"),
    **dict.fromkeys(
        (
            "arangodb",
            "cache",
            "couchbase",
            "elasticsearch",
            "event",
            "mongodb",
            "redis",
            "result",
            "security",
        ),
        ("", "CELERY_"),
    ),
}


@dataclass(frozen=True)
class Setting:
    """One configuration key: its names, default, and what celeriac does with it."""

    name: str
    old: tuple[str, ...]
    default: Any
    support: Support
    note: str

    @property
    def namespace(self) -> str:
        """The docs section: the name's first word when it is a namespace, else general."""
        head = self.name.split("_", 1)[0]
        return head if head in NAMESPACES else "general"


def _s(
    name: str,
    default: Any = None,
    support: Support | None = None,
    note: str = "",
    *,
    old: str | None = None,
) -> Setting:
    """A record; ``support`` and ``note`` are left out for the honoured settings."""
    if name in HONOURED:
        support, note = "honoured", HONOURED[name]
    if support is None:  # a setting left out of HONOURED must say what it is
        raise AssertionError(f"{name}: no support given and not in HONOURED")
    return Setting(name, (old or _old_name(name),), default, support, note)


def _old_name(name: str) -> str:
    drop, prefix = _OLD_SPELLING.get(name.split("_", 1)[0], ("", ""))
    return prefix + name.removeprefix(drop).upper()


def _backend(namespace: str, what: str, defaults: Mapping[str, Any]) -> list[Setting]:
    """The options of one of Celery's other result backends: all unsupported."""
    note = f"options of the {what} result backend; celeriac keeps results in Redis"
    return [_s(f"{namespace}_{key}", value, UNSUPPORTED, note) for key, value in defaults.items()]


_N, _U = NO_EFFECT, UNSUPPORTED
_AMQP = "an AMQP (RabbitMQ) option; it has no meaning on Redis"
_DELAYED = "delayed tasks wait in Redis, not in the worker's memory"
_REMOTE = "remote control and inspection run over celeriac's own Redis keys"
_EVENTS = "task events travel over celeriac's own Redis keys"
_RESULT_CONN = "results travel on the broker's Redis connection, with its options"
_BROKER_PARTS = "give the whole broker_url instead"
_BEAT_LATER = (
    "celeriac's scheduler keeps its state in Redis and sends each tick once, however many "
    "run (docs/periodic.md)"
)
_RECONNECTS = "celeriac reconnects by itself, with backoff, for as long as it runs"
_NO_REDIRECT = "a task's print() output is not redirected to the log"
_ONE_CODEC = "results are decoded with accept_content: one codec serves messages and results"
_UTC = "times are kept in UTC; a naive eta or expires means UTC, as in Celery"
_ACKS_LATE = "always late in effect: a task leaves its queue only with its outcome recorded"
_WORKER_LOST = "a lost worker's tasks run again once its heartbeats stop (see docs/delivery.md)"
_IGNORED_ERRORS = "a task with ignore_result stores no outcome, errors included"
_TIMEOUTS = "Redis timeouts are celeriac's own (see docs/redis.md)"
_CONNECTIONS = "celeriac sizes and shares its Redis connections itself"

_GENERAL = [
    _s("accept_content", ("json",), old="CELERY_ACCEPT_CONTENT"),
    _s("enable_utc", True, _N, _UTC),
    _s("imports", (), old="CELERY_IMPORTS"),
    _s("include", (), old="CELERY_INCLUDE"),
    _s("timezone", old="CELERY_TIMEZONE"),
]

_BROKER = [
    _s("broker_url"),
    _s("broker_read_url", None, _U, "one broker URL serves reading and writing"),
    _s("broker_write_url", None, _U, "one broker URL serves reading and writing"),
    _s("broker_transport", None, _U, "the scheme of broker_url decides: celeriac runs on Redis"),
    _s("broker_transport_options", {}),
    _s("broker_connection_timeout", 4, _N, _TIMEOUTS),
    _s("broker_connection_retry", True, _N, _RECONNECTS),
    _s("broker_connection_retry_on_startup", None, _N, _RECONNECTS),
    _s("broker_connection_max_retries", 100, _N, _RECONNECTS),
    _s("broker_channel_error_retry", False, _N, _AMQP),
    _s(
        "broker_failover_strategy",
        None,
        _N,
        "chooses among several broker URLs, which celeriac refuses (use Sentinel)",
    ),
    _s("broker_heartbeat", 120, _N, "workers prove they are alive with their own heartbeats"),
    _s("broker_heartbeat_checkrate", 3.0, _N, "workers prove they are alive their own way"),
    _s("broker_login_method", None, _N, _AMQP),
    _s("broker_native_delayed_delivery_queue_type", "quorum", _N, _AMQP),
    _s("broker_pool_limit", 10, _N, _CONNECTIONS),
    _s("broker_pool_acquire_timeout", None, _N, _CONNECTIONS),
    _s(
        "broker_use_ssl",
        False,
        _U,
        "put TLS options in a rediss:// URL instead (rediss://host:6380/0?ssl_cert_reqs=required)",
    ),
    _s("broker_host", None, _U, _BROKER_PARTS),
    _s("broker_port", None, _U, _BROKER_PARTS),
    _s("broker_user", None, _U, _BROKER_PARTS),
    _s("broker_password", None, _U, _BROKER_PARTS),
    _s("broker_vhost", None, _U, _BROKER_PARTS),
]

_RESULT = [
    _s("result_accept_content", None, _N, _ONE_CODEC, old="RESULT_ACCEPT_CONTENT"),
    _s("result_backend"),
    _s(
        "result_cache_max",
        -1,
        _N,
        "sizes Celery's client-side result cache; celeriac reads results from Redis",
        old="CELERY_MAX_CACHED_RESULTS",
    ),
    _s("result_compression", None, _U, "celeriac does not compress results"),
    _s("result_exchange", "celeryresults", _N, _AMQP),
    _s("result_exchange_type", "direct", _N, _AMQP),
    _s("result_expires", timedelta(days=1), old="CELERY_TASK_RESULT_EXPIRES"),
    _s("result_chord_expires", None, _N, "a chord's bookkeeping expires with its results"),
    _s("result_failure_expires", None, _U, "failed results expire after result_expires too"),
    _s("result_persistent", None, _N, _AMQP),
    _s("result_extended", False),
    _s("result_serializer", "json"),
    _s("result_backend_transport_options", {}, _N, _RESULT_CONN),
    _s("result_chord_retry_interval", 1.0, _N, "chord bodies are started by Redis, not polled"),
    _s("result_chord_join_timeout", 3.0, _N, "chord bodies are started by Redis, not polled"),
    _s("result_backend_max_sleep_between_retries_ms", 10000, _N, _RESULT_CONN),
    _s("result_backend_max_retries", float("inf"), _N, _RESULT_CONN),
    _s("result_backend_base_sleep_between_retries_ms", 10, _N, _RESULT_CONN),
    _s(
        "result_backend_always_retry",
        False,
        _N,
        "workers keep finished results and store them once Redis is back",
    ),
]

_TASK = [
    _s("task_acks_late", False, _N, _ACKS_LATE),
    _s(
        "task_acks_on_failure_or_timeout",
        True,
        _U,
        "a failed or timed-out task is always acknowledged",
    ),
    _s("task_acks_on_failure", None, _U, "a failed task is always acknowledged"),
    _s("task_acks_on_timeout", None, _U, "a timed-out task is always acknowledged"),
    _s("task_always_eager", False),
    _s("task_annotations"),
    _s(
        "task_compression",
        None,
        _U,
        "celeriac does not compress messages",
        old="CELERY_MESSAGE_COMPRESSION",
    ),
    _s("task_create_missing_queues", True),
    _s("task_create_missing_queue_type", "classic", _N, _AMQP),
    _s("task_create_missing_queue_exchange_type", None, _N, _AMQP),
    _s(
        "task_inherit_parent_priority",
        False,
        _U,
        "a task sent from a task gets the default priority, not its parent's",
    ),
    _s("task_default_delivery_mode", 2, _N, "every message is kept in Redis until acknowledged"),
    _s("task_default_queue", "celery"),
    _s("task_default_queue_type", "classic", _N, _AMQP),
    _s("task_default_exchange", None, _N, "celeriac sends to queues by name: no exchanges"),
    _s(
        "task_default_exchange_type", "direct", _N, "celeriac sends to queues by name: no exchanges"
    ),
    _s("task_default_routing_key", None, _N, "celeriac sends to queues by name: no routing keys"),
    _s("task_default_rate_limit"),
    _s("task_default_priority"),
    _s("task_eager_propagates", False, old="CELERY_EAGER_PROPAGATES_EXCEPTIONS"),
    _s("task_ignore_result", False),
    _s("task_store_eager_result", False),
    _s(
        "task_protocol",
        2,
        _N,
        "celeriac has one message format of its own",
        old="CELERY_TASK_PROTOCOL",
    ),
    _s("task_publish_retry", True, old="CELERY_TASK_PUBLISH_RETRY"),
    _s(
        "task_publish_retry_policy",
        {"max_retries": 3, "interval_start": 0, "interval_max": 1, "interval_step": 0.2},
        old="CELERY_TASK_PUBLISH_RETRY_POLICY",
    ),
    _s("task_queues"),
    _s(
        "task_queue_max_priority",
        None,
        _N,
        "RabbitMQ's priority limit; on Redis priorities fall into steps (docs/delivery.md)",
    ),
    _s("task_reject_on_worker_lost", None, _N, _WORKER_LOST),
    _s(
        "task_retry_on_worker_lost",
        False,
        _U,
        "a task lost with its worker is not retried as a new try",
    ),
    _s(
        "task_remote_tracebacks",
        False,
        _U,
        "a re-raised task error does not carry the worker's traceback",
    ),
    _s("task_repr_maxlevels", 3, _N, "only shortens arguments in Celery's log lines"),
    _s("task_routes"),
    _s(
        "task_send_sent_event",
        False,
        _U,
        "celeriac has no task-sent event",
        old="CELERY_SEND_TASK_SENT_EVENT",
    ),
    _s("task_serializer", "json", old="CELERY_TASK_SERIALIZER"),
    _s("task_soft_time_limit", old="CELERYD_TASK_SOFT_TIME_LIMIT"),
    _s("task_time_limit", old="CELERYD_TASK_TIME_LIMIT"),
    _s("task_store_errors_even_if_ignored", False, _U, _IGNORED_ERRORS),
    _s("task_track_started", False),
    _s("task_allow_error_cb_on_chord_header", False),
]

_WORKER = [
    _s("worker_agent", None, _U, "celeriac's worker runs no agent"),
    _s(
        "worker_autoscaler",
        "celery.worker.autoscale:Autoscaler",
        _U,
        "a custom autoscaler class is not used: --autoscale runs celeriac's own",
    ),
    _s(
        "worker_cancel_long_running_tasks_on_connection_loss",
        False,
        _U,
        "running tasks carry on while Redis is unreachable",
    ),
    _s(
        "worker_soft_shutdown_timeout",
        0.0,
        _U,
        "a stopping worker gives running tasks a grace period of its own (docs/delivery.md)",
    ),
    _s("worker_enable_soft_shutdown_on_idle", False, _N, _DELAYED),
    _s("worker_concurrency"),
    _s(
        "worker_consumer",
        "celery.worker.consumer:Consumer",
        _U,
        "celeriac's worker takes no consumer class",
    ),
    _s(
        "worker_direct", False, _U, "workers have no queue of their own", old="CELERY_WORKER_DIRECT"
    ),
    _s("worker_disable_rate_limits", False, old="CELERY_DISABLE_RATE_LIMITS"),
    _s(
        "worker_deduplicate_successful_tasks",
        False,
        _U,
        "a redelivered task runs again even if it succeeded before",
    ),
    _s("worker_enable_remote_control", True, _N, _REMOTE, old="CELERY_ENABLE_REMOTE_CONTROL"),
    _s("worker_hijack_root_logger", True),
    _s("worker_log_color", None, _N, "log lines are not coloured"),
    _s("worker_log_datefmt", None, _U, "log lines keep the default date format"),
    _s("worker_log_format", "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"),
    _s(
        "worker_lost_wait",
        10.0,
        _N,
        "a worker's lost tasks are taken over when its heartbeat lapses",
        old="CELERYD_WORKER_LOST_WAIT",
    ),
    _s("worker_max_memory_per_child"),
    _s("worker_max_tasks_per_child"),
    _s("worker_pool", "prefork"),
    _s("worker_pool_putlocks", True, _N, "an internal of Celery's prefork pool"),
    _s("worker_pool_restarts", False, _U, "celeriac has no pool_restart command"),
    _s("worker_pool_start_method", "fork", _U, "the process pool always forks"),
    _s("worker_proc_alive_timeout", 4.0, _N, "an internal of Celery's prefork pool"),
    _s("worker_prefetch_multiplier", 4),
    _s("worker_eta_task_limit", None, _N, _DELAYED),
    _s(
        "worker_enable_prefetch_count_reduction",
        True,
        _N,
        "an AMQP prefetch detail; celeriac fetches what it has room for",
    ),
    _s(
        "worker_disable_prefetch",
        False,
        _U,
        "use worker_prefetch_multiplier to bound what a worker holds",
    ),
    _s("worker_redirect_stdouts", True, _U, _NO_REDIRECT, old="CELERY_REDIRECT_STDOUTS"),
    _s(
        "worker_redirect_stdouts_level",
        "WARNING",
        _U,
        _NO_REDIRECT,
        old="CELERY_REDIRECT_STDOUTS_LEVEL",
    ),
    _s("worker_send_task_events", False, old="CELERY_SEND_EVENTS"),
    _s("worker_state_db", None, _N, "revocations are kept in Redis, shared by all workers"),
    _s("worker_task_log_datefmt", None, _U, "log lines keep the default date format"),
    _s(
        "worker_task_log_format",
        "[%(asctime)s: %(levelname)s/%(processName)s] %(task_name)s[%(task_id)s]: %(message)s",
    ),
    _s("worker_timer", None, _N, _DELAYED),
    _s("worker_timer_precision", 1.0, _N, _DELAYED),
    _s("worker_detect_quorum_queues", True, _N, _AMQP),
]

_BEAT = [
    _s("beat_enable_remote_control", False, _U, "the scheduler does not answer remote control"),
    _s("beat_remote_control_max_tick_age", None, _N, "only used with beat_enable_remote_control"),
    _s("beat_max_loop_interval", 0),
    _s("beat_schedule", {}),
    _s("beat_scheduler", "celery.beat:PersistentScheduler", _U, _BEAT_LATER),
    _s("beat_schedule_filename", "celerybeat-schedule", _U, _BEAT_LATER),
    _s("beat_sync_every", 0, _N, "the schedule's state is saved in Redis at every tick"),
    _s(
        "beat_cron_starting_deadline",
        None,
        _U,
        "late crontab ticks follow celeriac's missed-tick rule (docs/periodic.md)",
    ),
]

_CELERIAC = [
    _s("celeriac_signing_keys"),
    _s("celeriac_key_prefix", "celeriac"),
    _s("celeriac_sync_concurrency"),
    _s("celeriac_celery_queues"),
    _s("celeriac_celery_tasks"),
    _s("celeriac_celery_broker_url"),
    _s("celeriac_celery_result_backend"),
    _s("celeriac_worker_heartbeat", 5.0),
]

_EVENT = [
    _s("event_queue_expires", 60.0, _N, _EVENTS),
    _s("event_queue_ttl", 5.0, _N, _EVENTS),
    _s("event_queue_prefix", "celeryev", _N, _EVENTS),
    _s("event_queue_exclusive", True, _N, _EVENTS),
    _s("event_queue_durable", False, _N, _EVENTS),
    _s("event_serializer", "json", _N, _EVENTS),
    _s("event_exchange", "celeryev", _N, _EVENTS),
]

_CONTROL = [
    _s("control_queue_ttl", 300.0, _N, _REMOTE),
    _s("control_queue_expires", 10.0, _N, _REMOTE),
    _s("control_queue_exclusive", True, _N, _REMOTE),
    _s("control_queue_durable", False, _N, _REMOTE),
    _s("control_exchange", "celery", _N, _REMOTE + "; celeriac_key_prefix separates apps"),
]

_REDIS = [
    _s(f"redis_{key}", value, _N, _RESULT_CONN)
    for key, value in {
        "backend_use_ssl": None,
        "db": None,
        "host": None,
        "max_connections": None,
        "username": None,
        "password": None,
        "port": None,
        "socket_timeout": 120.0,
        "socket_connect_timeout": None,
        "retry_on_timeout": False,
        "socket_keepalive": False,
    }.items()
]

_CERTS = "celeriac signs with HMAC keys instead: see celeriac_signing_keys"
_SECURITY = [
    _s("security_certificate", None, _U, _CERTS),
    _s("security_cert_store", None, _U, _CERTS),
    _s("security_key", None, _U, _CERTS),
    _s("security_key_password", None, _U, _CERTS),
    _s("security_digest", "sha256", _U, _CERTS),
]

_DATABASE = "options of the SQLAlchemy result backend; celeriac keeps results in Redis"
_BACKENDS = [
    _s("database_url", None, _U, _DATABASE, old="CELERY_RESULT_DBURI"),
    _s(
        "database_engine_options",
        {"pool_pre_ping": True, "pool_recycle": 3600},
        _U,
        _DATABASE,
        old="CELERY_RESULT_ENGINE_OPTIONS",
    ),
    _s("database_engine_callback", None, _U, _DATABASE),
    _s(
        "database_short_lived_sessions",
        False,
        _U,
        _DATABASE,
        old="CELERY_RESULT_DB_SHORT_LIVED_SESSIONS",
    ),
    _s("database_table_schemas", None, _U, _DATABASE),
    _s("database_table_names", None, _U, _DATABASE, old="CELERY_RESULT_DB_TABLENAMES"),
    _s("database_create_tables_at_setup", True, _U, _DATABASE),
    *_backend("cache", "cache", {"backend": None, "backend_options": {}}),
    *_backend("mongodb", "MongoDB", {"backend_settings": None}),
    *_backend(
        "cassandra",
        "Cassandra",
        {
            "entry_ttl": None,
            "keyspace": None,
            "port": None,
            "read_consistency": None,
            "servers": None,
            "bundle_path": None,
            "table": None,
            "write_consistency": None,
            "auth_provider": None,
            "auth_kwargs": None,
            "options": {},
        },
    ),
    *_backend(
        "elasticsearch",
        "Elasticsearch",
        {
            "retry_on_timeout": None,
            "max_retries": None,
            "timeout": None,
            "save_meta_as_text": True,
        },
    ),
    *_backend("couchbase", "Couchbase", {"backend_settings": None}),
    *_backend("arangodb", "ArangoDB", {"backend_settings": None}),
    *_backend(
        "cosmosdbsql",
        "Azure Cosmos DB",
        {
            "database_name": "celerydb",
            "collection_name": "celerycol",
            "consistency_level": "Session",
            "max_retry_attempts": 9,
            "max_retry_wait_time": 30,
        },
    ),
    *_backend(
        "azureblockblob",
        "Azure Block Blob",
        {
            "container_name": "celery",
            "retry_initial_backoff_sec": 2,
            "retry_increment_base": 2,
            "retry_max_attempts": 3,
            "base_path": "",
            "connection_timeout": 20,
            "read_timeout": 120,
        },
    ),
    *_backend(
        "s3",
        "S3",
        {
            "access_key_id": None,
            "secret_access_key": None,
            "bucket": None,
            "base_path": None,
            "endpoint_url": None,
            "region": None,
        },
    ),
    *_backend(
        "gcs",
        "Google Cloud Storage",
        {
            "bucket": None,
            "project": None,
            "base_path": "",
            "ttl": 0,
        },
    ),
]

#: Every setting by its new name, in the docs' order within each namespace.
SETTINGS: Mapping[str, Setting] = {
    setting.name: setting
    for group in (
        _GENERAL,
        _BROKER,
        _RESULT,
        _TASK,
        _WORKER,
        _BEAT,
        _CELERIAC,
        _EVENT,
        _CONTROL,
        _REDIS,
        _SECURITY,
        _BACKENDS,
    )
    for setting in group
}

#: Old upper-case name -> new name.
OLD_NAMES: Mapping[str, str] = {
    old: setting.name for setting in SETTINGS.values() for old in setting.old
}
