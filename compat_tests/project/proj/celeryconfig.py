"""Settings by Celery's lower-case names; the Redis comes from the environment."""

import os

broker_url = os.environ["COMPAT_REDIS_URL"]
result_backend = os.environ["COMPAT_REDIS_URL"]
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_extended = True
enable_utc = True
timezone = "UTC"
worker_prefetch_multiplier = 1
task_routes = {
    "proj.tasks.routed": {"queue": "other"},
    "proj.tasks.glob_*": {"queue": "other"},
}
