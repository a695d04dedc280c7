"""For test modules that run on Sentinel and Cluster too: import ``every_broker_kind``
(it is the ``broker_kind`` fixture, widened to ALL_BROKERS)."""

from __future__ import annotations

import pytest

from tests.conftest import ALL_BROKERS


@pytest.fixture(params=ALL_BROKERS, name="broker_kind")
def every_broker_kind(request: pytest.FixtureRequest) -> str:
    """Every broker, Sentinel and Cluster included."""
    kind: str = request.param
    return kind
