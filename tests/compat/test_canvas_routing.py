"""Signatures (partial arguments, immutability, the wire dict) and the router."""

from __future__ import annotations

import re
from typing import Any

import pytest
from celery import Celery as RealCelery

from celeriac.compat.app import Celery
from celeriac.compat.canvas import Signature, maybe_signature, signature
from celeriac.compat.routing import Router, prepare_routes
from celeriac.exceptions import QueueNotFound


def test_signature_partial_rule_and_dict_shape() -> None:
    app = Celery("sig", broker="memory://")

    @app.task
    def add(*args: int) -> int:
        return sum(args)

    sig = add.s(2).set(countdown=5)
    clone = sig.clone((1,))
    assert clone.args == (1, 2)  # what comes later goes first (a parent's result)
    assert add.si(2).clone((1,)).args == (2,)  # immutable: ignores it
    assert clone.options == {"countdown": 5}
    assert sig(10) == 12  # calling runs it here, with the partial rule
    shape = sig.to_dict()
    assert set(shape) == {"task", "args", "kwargs", "options", "subtask_type", "immutable"}
    assert maybe_signature(shape) == sig and signature(shape)["task"] == add.name


def test_signature_dict_matches_celery() -> None:
    real = RealCelery("real", set_as_current=False)

    @real.task(name="t.add")
    def add(x: int, y: int) -> int:
        return x + y

    theirs = dict(add.s(1, y=2).set(queue="q"))
    ours = Signature("t.add", (1,), {"y": 2}, {"queue": "q"}).to_dict()
    assert ours == {**theirs, "args": list(theirs["args"])}


def test_router_regex_callable_order_and_missing_queue() -> None:
    def by_arg(name: str, args: Any, kwargs: Any, options: Any, **kw: Any) -> Any:
        return "big" if kwargs.get("size", 0) > 10 else None

    routes = prepare_routes([{re.compile(r"^img\."): {"queue": "images"}}, by_arg])
    router = Router(routes, "celery", queues=["celery", "images"], create_missing=False)
    assert router.route({}, "img.resize")["queue"] == "images"
    assert router.route({"queue": "celery"}, "img.resize")["queue"] == "celery"
    assert router.route({}, "other")["queue"] == "celery"
    with pytest.raises(QueueNotFound, match="big"):
        router.route({}, "other", (), {"size": 20})
