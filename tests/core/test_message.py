from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

import pytest

from celeriac.core import Codec, DecodeError, TaskMessage


def test_round_trip_with_every_field() -> None:
    message = TaskMessage(
        name="proj.add",
        args=(1, "two", [3]),
        kwargs={"when": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)},
        queue="high",
        priority=6,
        eta=1_900_000_000.5,
        expires=1_900_000_100.0,
        retries=2,
        max_retries=5,
        timeout=30.0,
        soft_timeout=25.0,
        ignore_result=True,
        parent_id="p",
        root_id="r",
        headers={"trace": "abc"},
    )
    codec = Codec()
    assert TaskMessage.decode(message.encode(codec), codec) == message


def test_defaults_are_left_out_of_the_wire_form() -> None:
    message = TaskMessage(name="t", id="i", created=1.0)
    assert message.to_dict() == {"id": "i", "task": "t", "created": 1.0}


def test_ids_are_unique_uuid_strings() -> None:
    a, b = TaskMessage(name="t"), TaskMessage(name="t")
    assert a.id != b.id and len(a.id) == 36


def test_retried_counts_up_and_sets_the_eta() -> None:
    message = TaskMessage(name="t", retries=1)
    again = message.retried(eta=123.0)
    assert (again.retries, again.eta, again.id) == (2, 123.0, message.id)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ([1, 2], "must be a mapping"),
        ({"task": "t"}, "'id' must be a non-empty string"),
        ({"id": "i"}, "'task' must be a non-empty string"),
        ({"id": "i", "task": "t", "args": "nope"}, "'args' has type str"),
        ({"id": "i", "task": "t", "kwargs": [1]}, "'kwargs' has type list"),
        ({"id": "i", "task": "t", "kwargs": {"1": 1, "x": {}}, "priority": "9"}, "'priority'"),
        ({"id": "i", "task": "t", "eta": True}, "'eta' must be a number"),
        ({"id": "i", "task": "t", "headers": {"a": 1, 2: 3}}, "string keys"),
    ],
)
def test_malformed_messages_name_the_bad_field(raw: Any, match: str) -> None:
    with pytest.raises(DecodeError, match=match):
        TaskMessage.from_dict(raw)


def test_a_decoded_message_is_what_the_constructor_makes() -> None:
    """from_dict builds its instance without __init__: every field must still be set,
    the missing ones to their defaults, mutable ones fresh for each message."""
    before = time.time()
    a = TaskMessage.from_dict({"id": "i", "task": "t", "args": [1]})
    b = TaskMessage.from_dict({"id": "j", "task": "t"})
    assert before <= a.created <= time.time()  # "created" is missing: made now, as __init__ does
    assert a == TaskMessage(name="t", id="i", args=(1,), created=a.created)
    assert vars(a) == vars(TaskMessage(name="t", id="i", args=(1,), created=a.created))
    assert a.kwargs == {} and a.kwargs is not b.kwargs and a.headers is not b.headers
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.name = "other"  # type: ignore[misc]
    full = TaskMessage(
        name="t",
        args=(1,),
        kwargs={"k": 1},
        queue="q",
        priority=3,
        eta=2.0,
        expires=3.0,
        retries=1,
        max_retries=4,
        timeout=5.0,
        soft_timeout=4.0,
        ignore_result=True,
        parent_id="p",
        root_id="r",
        headers={"h": "v"},
        created=1.0,
        parents=("x", "y"),
        pass_results="all",
        unique="lock",
    )
    assert vars(TaskMessage.from_dict(full.to_dict())) == vars(full)
