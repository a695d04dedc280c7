"""Key names: everything under the prefix, a queue's keys sharing its hash tag."""

from __future__ import annotations

import pytest

from celeriac.core import ConfigurationError
from celeriac.core.keys import GROUP, MESSAGE_FIELD, Keys, check_queue_name


def test_key_names() -> None:
    keys = Keys("app")
    assert keys.stream("emails", 6) == "app:{emails}:stream:6"
    assert keys.delayed("emails") == "app:{emails}:delayed"
    assert keys.delayed_data("emails") == "app:{emails}:delayed:data"
    assert keys.dead("emails") == "app:{emails}:dead"
    assert keys.result("1234-abcd") == "app:result:{1234-abcd}"
    assert keys.deps("1234-abcd") == "app:deps:{1234-abcd}"
    assert keys.waiting("emails") == "app:{emails}:waiting"
    assert keys.parents("emails", "c1") == "app:{emails}:parents:c1"
    assert keys.events() == "app:{events}"
    assert Keys().stream("q", 0) == "celeriac:{q}:stream:0"
    assert (GROUP, MESSAGE_FIELD) == ("celeriac", "m")


@pytest.mark.parametrize("queue", ["q", "emails", "a:b:c", "with space", "ünï", "x" * 200])
def test_every_queue_key_carries_the_queue_as_hash_tag(queue: str) -> None:
    keys = Keys("p:nested")
    queue_keys = [
        keys.stream(queue, 0),
        keys.stream(queue, 9),
        keys.delayed(queue),
        keys.delayed_data(queue),
        keys.dead(queue),
    ]
    for key in queue_keys:
        assert key.startswith("p:nested:")
        # Redis Cluster hashes the text between the first "{" and the next "}"
        start = key.index("{") + 1
        assert key[start : key.index("}", start)] == queue
        assert keys.queue_of(key) == queue
    assert len(set(queue_keys)) == len(queue_keys)


def test_result_keys_are_tagged_by_task() -> None:
    keys = Keys("p")
    assert keys.result("t") == "p:result:{t}"  # tagged by the task id, not a queue
    assert keys.result("a") != keys.result("b")


@pytest.mark.parametrize("queue", ["q", "celery", "a:b", "x" * 200])
def test_check_queue_name_accepts(queue: str) -> None:
    assert check_queue_name(queue) == queue


@pytest.mark.parametrize("queue", ["", "a{b", "a}b", "{q}", "}", "x" * 201])
def test_check_queue_name_rejects(queue: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid queue name"):
        check_queue_name(queue)
