"""celeriac's engine: an async task queue on Redis Streams. Knows nothing of Celery.

::

    from celeriac.core import App, Worker

    app = App("redis://localhost:6379/0")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    handle = await add.enqueue(2, 2)        # or add.enqueue_sync(2, 2) from sync code
    await Worker(app).run(burst=True)       # drain the queue, then return
    assert await handle.result(timeout=5) == 4
"""

from .app import DEFAULT_RESULT_TTL, App
from .broker import (
    Broker,
    DeadLetter,
    MemoryBroker,
    QueueStats,
    Recovery,
    RedisBroker,
    SyncBroker,
    broker_from_url,
)
from .codec import Codec
from .context import Middleware, TaskContext, current_task
from .cron import Cron, Every, Periodic, Schedule, Scheduler, Solar, parse_schedule
from .errors import (
    BrokerError,
    CeleriacError,
    ConfigurationError,
    ContentDisallowed,
    DecodeError,
    DependencyError,
    DependencyFailed,
    EncodeError,
    MaxRetriesExceeded,
    NotRegistered,
    RemoteTaskError,
    ResultTimeout,
    Retry,
    SignatureError,
    SoftTimeLimitExceeded,
    TaskError,
    TaskRevoked,
    TimeLimitExceeded,
    WorkerLostError,
)
from .events import TaskEvent
from .graph import Call, Pipeline
from .handle import Handle, SyncHandle
from .introspection import PLACES, TaskInfo
from .liveness import Counters, WorkerInfo
from .logs import setup_logging
from .message import TaskMessage
from .options import SendOptions
from .result import (
    FAILURE,
    PENDING,
    READY_STATES,
    RETRY,
    REVOKED,
    STARTED,
    SUCCESS,
    ExceptionInfo,
    ResultRecord,
)
from .retry import RetryPolicy
from .runtime import run
from .serializers import Serializer, register_serializer, unregister_serializer
from .signing import Signer
from .task import Task
from .worker import Worker

__all__ = [
    "DEFAULT_RESULT_TTL",
    "FAILURE",
    "PENDING",
    "PLACES",
    "READY_STATES",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "App",
    "Broker",
    "BrokerError",
    "Call",
    "CeleriacError",
    "Codec",
    "ConfigurationError",
    "ContentDisallowed",
    "Counters",
    "Cron",
    "DeadLetter",
    "DecodeError",
    "DependencyError",
    "DependencyFailed",
    "EncodeError",
    "Every",
    "ExceptionInfo",
    "Handle",
    "MaxRetriesExceeded",
    "MemoryBroker",
    "Middleware",
    "NotRegistered",
    "Periodic",
    "Pipeline",
    "QueueStats",
    "Recovery",
    "RedisBroker",
    "RemoteTaskError",
    "ResultRecord",
    "ResultTimeout",
    "Retry",
    "RetryPolicy",
    "Schedule",
    "Scheduler",
    "SendOptions",
    "Serializer",
    "SignatureError",
    "Signer",
    "SoftTimeLimitExceeded",
    "Solar",
    "SyncBroker",
    "SyncHandle",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskEvent",
    "TaskInfo",
    "TaskMessage",
    "TaskRevoked",
    "TimeLimitExceeded",
    "Worker",
    "WorkerInfo",
    "WorkerLostError",
    "broker_from_url",
    "current_task",
    "parse_schedule",
    "register_serializer",
    "run",
    "setup_logging",
    "unregister_serializer",
]
