"""Periodic tasks: schedules (cron expressions, intervals, solar events), entries and the
scheduler."""

from __future__ import annotations

from .entry import CATCH_UP_LIMIT, DEFAULT_GRACE, MISSED, Periodic, Plan, plan, tick_id
from .scheduler import DEFAULT_MAX_INTERVAL, Scheduler
from .schedules import Cron, Every, Schedule, parse_schedule, ticks_between
from .solar import Solar

__all__ = [
    "CATCH_UP_LIMIT",
    "DEFAULT_GRACE",
    "DEFAULT_MAX_INTERVAL",
    "MISSED",
    "Cron",
    "Every",
    "Periodic",
    "Plan",
    "Schedule",
    "Scheduler",
    "Solar",
    "parse_schedule",
    "plan",
    "tick_id",
    "ticks_between",
]
