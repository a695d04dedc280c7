"""The broker tests run on every broker: memory, Redis (RESP2 and RESP3), Sentinel and
Cluster."""

from __future__ import annotations

from tests.brokers import every_broker_kind  # noqa: F401 (the broker_kind fixture)
