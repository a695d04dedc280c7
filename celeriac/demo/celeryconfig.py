"""The demo's settings, Celery's names: routes, results, and a beat schedule."""

from __future__ import annotations

import os
import uuid

from celeriac.schedules import crontab

# each run has its own key prefix, so that on a shared Redis it never mixes with other
# data (set CELERIAC_DEMO_PREFIX to share one between processes: a worker and a client)
celeriac_key_prefix = (
    os.environ.get("CELERIAC_DEMO_PREFIX") or f"celeriac-demo-{uuid.uuid4().hex[:8]}"
)
task_routes = {"celeriac.demo.tasks.word_count": {"queue": "text"}}
result_expires = 600
beat_schedule = {
    "heartbeat": {"task": "celeriac.demo.tasks.heartbeat", "schedule": 1.0},
    "nightly-report": {
        "task": "celeriac.demo.tasks.nightly_report",
        "schedule": crontab(minute=0, hour=3),
    },
}
