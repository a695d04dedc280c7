from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from celeriac.core import ConfigurationError, register_serializer, unregister_serializer
from celeriac.core.serializers import get_serializer, registered_serializers

SAMPLE: dict[str, Any] = {
    "text": "héllo",
    "int": 7,
    "float": 1.5,
    "none": None,
    "list": [1, [2, 3]],
    "nested": {"a": {"b": True}},
    "when": dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.timezone.utc),
    "naive": dt.datetime(2026, 11, 23, 10, 30, 1, 5),
    "day": dt.date(2026, 1, 2),
    "clock": dt.time(4, 5, 6),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "money": Decimal("10.05"),
    "blob": b"\x00\xffbytes",
}


@pytest.mark.parametrize("name", ["json", "msgpack", "pickle"])
def test_round_trip_keeps_rich_types(name: str) -> None:
    serializer = get_serializer(name)
    assert serializer.loads(serializer.dumps(SAMPLE)) == SAMPLE


@pytest.mark.parametrize("name", ["json", "msgpack"])
def test_tuples_come_back_as_lists_as_in_celery(name: str) -> None:
    serializer = get_serializer(name)
    assert serializer.loads(serializer.dumps({"t": (1, 2)})) == {"t": [1, 2]}


def test_json_rejects_unknown_types_with_the_type_name() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        get_serializer("json").dumps(object())


def test_unknown_serializer_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="registered serializers: json, msgpack, pickle"):
        get_serializer("yaml")


def test_register_and_unregister_a_custom_serializer() -> None:
    register_serializer("upper", lambda v: str(v).upper().encode(), lambda b: b.decode())
    try:
        assert "upper" in registered_serializers()
        s = get_serializer("upper")
        assert s.loads(s.dumps("abc")) == "ABC"
    finally:
        unregister_serializer("upper")
    assert "upper" not in registered_serializers()


@pytest.mark.parametrize("name", ["", "x" * 256, "naïve"])
def test_bad_serializer_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError):
        register_serializer(name, bytes, bytes)


def test_builtins_cannot_be_replaced_or_removed() -> None:
    with pytest.raises(ConfigurationError, match="built-in"):
        register_serializer("json", bytes, bytes)
    with pytest.raises(ConfigurationError, match="built-in"):
        unregister_serializer("pickle")
