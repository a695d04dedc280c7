"""The broker tests run on every broker: memory, Redis (RESP2 and RESP3), Sentinel and
Cluster."""

from __future__ import annotations

import pytest

from tests.conftest import ALL_BROKERS


@pytest.fixture(params=ALL_BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind
