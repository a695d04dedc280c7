"""Celery's canvas on the core graph: chain, group, chord, chunks, map/starmap, their
results, failures and errbacks, freezing, options placement, eager mode, dict shapes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from celery import Celery as RealCelery
from celery import chain as real_chain
from celery import chord as real_chord
from celery import group as real_group

from celeriac import chain, chord, chunks, group, signature, xmap, xstarmap
from celeriac.canvas import Signature, _chain, _chord, maybe_signature
from celeriac.compat.app import Celery
from celeriac.exceptions import ChordError, ImproperlyConfigured, TaskRevokedError
from celeriac.result import AsyncResult, EagerResult, GroupResult, ResultSet
from tests.compat.conftest import drain, make_app


class Tasks:
    """The tasks the tests use, on one app; ``seen`` collects side effects."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.seen: list[Any] = []
        seen = self.seen

        @app.task
        def add(x: int, y: int) -> int:
            return x + y

        @app.task
        def mul(x: int, y: int) -> int:
            return x * y

        @app.task
        def tsum(values: list[int]) -> int:
            return sum(values)

        @app.task
        def boom(*args: Any) -> None:
            raise ZeroDivisionError(f"boom {args!r}")

        @app.task
        def slow_ident(x: int, delay: float) -> int:
            time.sleep(delay)
            return x

        @app.task(bind=True)
        def whoami(self: Any, *args: Any) -> Any:
            request = self.request
            return [request.group, request.group_index, bool(request.chord), request.root_id]

        @app.task
        def on_error(request: Any, exc: BaseException, traceback: str) -> None:
            seen.append(("errback", request.id, request.task, type(exc).__name__, str(exc)))

        @app.task
        def old_errback(task_id: str) -> None:
            seen.append(("old", task_id))

        @app.task(ignore_result=True)
        def quiet_double(x: int) -> int:
            return x * 2

        self.add, self.mul, self.tsum, self.boom = add, mul, tsum, boom
        self.slow_ident, self.whoami, self.on_error = slow_ident, whoami, on_error
        self.old_errback, self.quiet_double = old_errback, quiet_double


@pytest.fixture
def t(celery_app: Celery) -> Tasks:
    return Tasks(celery_app)


# -- chains -----------------------------------------------------------------------------


def test_a_chain_passes_each_result_on_and_links_parents(t: Tasks) -> None:
    res = (t.add.s(1, 2) | t.add.s(3) | t.mul.s(10)).apply_async()
    drain(t.app)
    assert isinstance(res, AsyncResult)
    assert res.get(timeout=5) == 60
    assert res.parent.get(timeout=5) == 6
    assert res.parent.parent.get(timeout=5) == 3
    assert res.parent.parent.parent is None
    first = res.parent.parent
    assert res.app.AsyncResult(res.id).name == t.mul.name
    assert first.id != res.id


def test_a_chain_stops_at_a_failure_and_later_steps_carry_its_error(t: Tasks) -> None:
    workflow = chain(t.add.s(1, 2), t.boom.s(), t.add.s(5), t.add.s(6))
    workflow.link_error(t.on_error.s())
    res = workflow.apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError, match=r"boom \(3,\)"):
        res.get(timeout=5)
    states = [res.state, res.parent.state, res.parent.parent.state, res.parent.parent.parent.state]
    assert states == ["FAILURE", "FAILURE", "FAILURE", "SUCCESS"]
    assert isinstance(res.result, ZeroDivisionError) and str(res.result) == "boom (3,)"
    failed = res.parent.parent
    # only the task that failed calls the chain's errback, as in Celery
    assert t.seen == [("errback", failed.id, t.boom.name, "ZeroDivisionError", "boom (3,)")]


def test_a_later_steps_own_errback_is_not_called_when_an_earlier_one_fails(t: Tasks) -> None:
    res = chain(t.boom.s(1), t.add.s(5).on_error(t.old_errback.s())).apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError):
        res.get(timeout=5)
    assert t.seen == []


def test_immutable_steps_wait_but_ignore_the_result(t: Tasks) -> None:
    res = chain(t.add.s(1, 2), t.add.si(10, 10), t.add.s(1)).apply_async()
    drain(t.app)
    assert res.get(timeout=5) == 21


def test_chain_options_arguments_task_id_and_link(t: Tasks) -> None:
    res = chain(t.add.s(2), t.mul.s(3)).apply_async((1,), task_id="the-last", queue="celery")
    drain(t.app)
    assert res.id == "the-last"
    assert res.get(timeout=5) == 9  # (1 + 2) * 3: the chain's arguments went to the first
    linked = chain(t.add.s(1, 1), t.add.s(1)).apply_async(link=t.mul.s(100))
    drain(t.app)
    assert linked.get(timeout=5) == 3
    assert linked.children is not None


def test_nested_chains_flatten_and_chains_combine(t: Tasks) -> None:
    combined = chain(t.add.s(1, 1), t.add.s(2)) | chain(t.add.s(3), t.add.s(4))
    assert isinstance(combined, _chain) and len(combined.tasks) == 4
    assert len(chain(chain(t.add.s(1, 1), t.add.s(1)), t.add.s(1)).tasks) == 3
    res = combined.apply_async()
    other = (t.add.s(1, 1) | (t.add.s(2) | t.add.s(3))).apply_async()
    single = chain(t.add.s(1, 1)).apply_async()
    drain(t.app)
    assert (res.get(timeout=5), other.get(timeout=5), single.get(timeout=5)) == (11, 7, 2)


def test_a_later_steps_countdown_counts_from_the_step_before(t: Tasks) -> None:
    started = time.monotonic()
    res = chain(t.slow_ident.s(1, 0.4), t.slow_ident.s(0).set(countdown=0.4)).apply_async()
    later = t.add.s(1).set(countdown=0.4)
    callback = later.freeze()
    t.slow_ident.apply_async((2, 0.4), link=later)
    drain(t.app)  # the first steps run; the later ones then wait out their countdowns
    assert (res.state, callback.state) == ("PENDING", "PENDING")
    time.sleep(0.5)
    drain(t.app)
    assert res.get(timeout=5) == 1 and callback.get(timeout=5) == 3
    assert time.monotonic() - started >= 0.8  # 0.4 s of work, then 0.4 s from its end


def test_a_step_of_an_ignore_result_task_still_hands_its_value_on(t: Tasks) -> None:
    res = chain(t.add.s(1, 2), t.quiet_double.s(), t.add.s(1)).apply_async()
    drain(t.app)
    assert res.get(timeout=5) == 7


def test_a_revoked_step_fails_the_steps_after_it(t: Tasks) -> None:
    res = chain(t.add.si(1, 1).set(countdown=30), t.add.s(1)).apply_async()
    res.parent.revoke()
    drain(t.app)
    assert res.parent.state == "REVOKED"
    assert res.state == "FAILURE"  # Celery leaves it PENDING for ever (docs/differences.md)
    with pytest.raises(TaskRevokedError):
        res.get(timeout=5)


# -- groups -----------------------------------------------------------------------------


def test_a_group_gives_results_in_order_and_the_result_set_api(t: Tasks) -> None:
    res = group(t.slow_ident.s(i, 0.05 * (3 - i)) for i in range(4)).apply_async()
    assert isinstance(res, GroupResult) and isinstance(res, ResultSet)
    assert len(res) == 4 and res.waiting() and not res.ready()
    drain(t.app)
    assert res.get(timeout=5) == [0, 1, 2, 3]
    assert res.join(timeout=5) == [0, 1, 2, 3]
    assert res.ready() and res.successful() and not res.failed() and not res.waiting()
    assert res.completed_count() == 4
    assert [r.get(timeout=5) for r in res] == [0, 1, 2, 3] and res[1].get(timeout=5) == 1
    seen: list[Any] = []
    assert res.join(callback=lambda task_id, value: seen.append((task_id, value))) == []
    assert seen == [(r.id, i) for i, r in enumerate(res.results)]
    assert repr(res).startswith(f"<GroupResult: {res.id} [")


def test_a_failed_group_member(t: Tasks) -> None:
    res = group(t.add.s(1, 1), t.boom.s(2)).apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError, match=r"boom \(2,\)"):
        res.get(timeout=5)
    values = res.join(propagate=False, timeout=5)
    assert values[0] == 2 and isinstance(values[1], ZeroDivisionError)
    assert (res.completed_count(), res.successful(), res.failed(), res.ready()) == (
        1,
        False,
        True,
        True,
    )
    with pytest.raises(ZeroDivisionError):
        res.maybe_throw()


def test_group_arguments_go_to_every_member_and_nested_groups_unroll(t: Tasks) -> None:
    partial = group(t.add.s(1), t.add.s(2)).apply_async((10,))
    nested = group(group(t.add.s(1, 1), t.add.s(2, 2)), t.add.s(3, 3)).apply_async()
    empty = group([]).apply_async()
    drain(t.app)
    assert partial.get(timeout=5) == [11, 12]
    assert nested.get(timeout=5) == [2, 4, 6] and len(nested) == 3
    assert empty.get(timeout=5) == []


def test_group_members_see_their_group_in_the_request(t: Tasks) -> None:
    res = group(t.whoami.s(), t.whoami.s()).apply_async()
    drain(t.app)
    assert [v[:3] for v in res.get(timeout=5)] == [[res.id, 0, False], [res.id, 1, False]]


def test_a_group_result_is_saved_restored_and_deleted(t: Tasks) -> None:
    res = group(t.add.s(i, i) for i in range(3)).apply_async()
    drain(t.app)
    res.save()
    restored = GroupResult.restore(res.id, app=t.app)
    assert restored is not None and restored == res
    assert restored.get(timeout=5) == [0, 2, 4]
    res.delete()
    assert GroupResult.restore(res.id, app=t.app) is None


def test_a_group_is_revoked_as_a_whole(t: Tasks) -> None:
    res = group(t.add.si(1, 1).set(countdown=30), t.add.si(2, 2).set(countdown=30)).apply_async()
    res.revoke()
    drain(t.app)
    assert [r.state for r in res] == ["REVOKED", "REVOKED"]


# -- chords -----------------------------------------------------------------------------


def test_a_chord_body_gets_the_header_results_in_order(t: Tasks) -> None:
    header = [t.slow_ident.s(i, 0.05 * (3 - i)) for i in range(4)]
    called = chord(header)(t.tsum.s())
    given = chord(header, t.tsum.s()).apply_async()
    piped = (group(header) | t.tsum.s()).apply_async()
    drain(t.app)
    assert called.get(timeout=5) == given.get(timeout=5) == piped.get(timeout=5) == 6
    assert isinstance(called.parent, GroupResult) and called.parent.get(timeout=5) == [0, 1, 2, 3]
    assert isinstance(group(header) | t.tsum.s(), _chord)


def test_header_members_see_the_chord_in_the_request(t: Tasks) -> None:
    res = chord([t.whoami.s(), t.whoami.s()], t.tsum.si([1])).apply_async()
    drain(t.app)
    assert res.get(timeout=5) == 1
    assert [v[2] for v in res.parent.get(timeout=5)] == [True, True]


def test_a_failing_header_fails_the_body_with_a_chord_error_and_calls_its_errbacks(
    t: Tasks,
) -> None:
    body = t.tsum.s()
    body.link_error(t.on_error.s())
    body.link_error(t.old_errback.s())
    res = chord([t.add.s(1, 1), t.boom.s(2), t.add.s(3, 3)], body).apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError, match=r"boom \(2,\)"):  # the header's error first
        res.get(timeout=5)
    failed = res.parent[1]
    expected = f"Dependency {failed.id} raised ZeroDivisionError('boom (2,)')"
    assert res.state == "FAILURE"
    assert isinstance(res.result, ChordError) and str(res.result) == expected
    assert ("errback", res.id, t.tsum.name, "ChordError", expected) in t.seen
    assert ("old", res.id) in t.seen
    assert len(t.seen) == 2


def test_chord_errbacks_on_the_header_when_the_setting_says(t: Tasks) -> None:
    t.app.conf.task_allow_error_cb_on_chord_header = True
    workflow = chord([t.add.s(1, 1), t.boom.s(2)], t.tsum.s())
    workflow.link_error(t.on_error.s())
    res = workflow.apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError):
        res.get(timeout=5)
    failed = res.parent[1]
    called = sorted((entry[1], entry[3]) for entry in t.seen)
    assert called == sorted([(failed.id, "ZeroDivisionError"), (res.id, "ChordError")])


def test_a_task_after_a_failed_chord_carries_the_chord_error(t: Tasks) -> None:
    res = chain(chord([t.boom.s(1), t.add.s(1, 1)], t.tsum.s()), t.add.s(1)).apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError):
        res.get(timeout=5)
    assert isinstance(res.result, ChordError) and isinstance(res.parent.result, ChordError)


def test_an_empty_header_gives_the_body_an_empty_list(t: Tasks) -> None:
    res = chord([], t.tsum.s()).apply_async()
    drain(t.app)
    assert res.get(timeout=5) == 0


def test_groups_inside_chains(t: Tasks) -> None:
    middle = chain(t.add.s(1, 1), group(t.add.s(1), t.add.s(2)), t.tsum.s()).apply_async()
    end = chain(t.add.s(1, 1), group(t.add.s(1), t.add.s(2))).apply_async()
    two = (group(t.add.s(1, 1), t.add.s(2, 2)) | group(t.tsum.s(), t.tsum.s())).apply_async()
    drain(t.app)
    assert middle.get(timeout=5) == 7
    assert isinstance(end, GroupResult) and end.get(timeout=5) == [3, 4]
    assert end.parent.get(timeout=5) == 2
    assert two.get(timeout=5) == [6, 6]


def test_a_chord_needs_a_body(t: Tasks) -> None:
    with pytest.raises(ValueError, match="needs a body"):
        chord([t.add.s(1, 1)]).apply_async()


# -- replacing a running task -----------------------------------------------------------


def _replacing(t: Tasks) -> tuple[Any, Any]:
    @t.app.task(bind=True)
    def swap(self: Any, x: int) -> Any:
        return self.replace(t.mul.s(x, 10))

    @t.app.task(bind=True)
    def fan(self: Any, n: int) -> Any:
        return self.replace(group(t.add.s(i, i) for i in range(n)))

    return swap, fan


def test_a_task_replaces_itself_and_keeps_its_place(t: Tasks) -> None:
    swap, fan = _replacing(t)
    res = chain(t.add.s(1, 1), swap.s(), t.add.s(1)).apply_async()
    direct = swap.apply_async((3,), link_error=t.on_error.s())
    fanned = fan.delay(3)
    in_chord = chord([swap.s(1), swap.s(2)], t.tsum.s()).apply_async()
    drain(t.app)
    assert res.get(timeout=5) == 21 and res.parent.get(timeout=5) == 20
    assert direct.get(timeout=5) == 30 and direct.state == "SUCCESS"
    assert fanned.get(timeout=5) == [0, 2, 4]
    assert in_chord.get(timeout=5) == 30
    with pytest.raises(ImproperlyConfigured, match="empty chain"):
        swap.replace(chain())


def test_a_replacement_inherits_the_errbacks(t: Tasks) -> None:
    @t.app.task(bind=True)
    def to_boom(self: Any) -> Any:
        raise self.replace(t.boom.s(5))

    res = to_boom.apply_async(link_error=t.on_error.s())
    drain(t.app)
    with pytest.raises(ZeroDivisionError):
        res.get(timeout=5)
    assert t.seen == [("errback", res.id, t.boom.name, "ZeroDivisionError", "boom (5,)")]


def test_replace_in_eager_mode_returns_the_value(prefix: str) -> None:
    app = make_app("memory://", prefix, task_always_eager=True)
    swap, fan = _replacing(Tasks(app))
    assert swap.delay(4).get() == 40
    assert fan.delay(2).get() == [0, 2]
    app.close()


# -- map, starmap, chunks ---------------------------------------------------------------


def test_map_starmap_and_chunks(t: Tasks) -> None:
    mapped = t.mul.starmap([(1, 2), (3, 4)]).apply_async()
    doubled = t.quiet_double.map([1, 2, 3]).apply_async()
    parts = t.add.chunks(zip(range(10), range(10), strict=True), 3)
    assert isinstance(parts, chunks) and isinstance(parts.group(), group)
    chunked = parts.apply_async()
    as_group = parts.group().apply_async()
    drain(t.app)
    assert mapped.get(timeout=5) == [2, 12]
    assert doubled.get(timeout=5) == [2, 4, 6]
    expected = [[0, 2, 4], [6, 8, 10], [12, 14, 16], [18]]
    assert isinstance(chunked, GroupResult)
    assert chunked.get(timeout=5) == as_group.get(timeout=5) == expected


def test_a_failure_inside_a_map_fails_it(t: Tasks) -> None:
    res = t.boom.map([1, 2]).apply_async()
    drain(t.app)
    with pytest.raises(ZeroDivisionError, match=r"boom \(1,\)"):
        res.get(timeout=5)


def test_chunks_need_a_positive_size(t: Tasks) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        t.add.chunks([(1, 1)], 0)


# -- freezing, async sending, eager mode --------------------------------------------------


def test_freeze_fixes_the_ids_that_sending_uses(t: Tasks) -> None:
    workflow = chain(t.add.s(1, 1), t.add.s(1))
    frozen = workflow.freeze()
    grouped = group(t.add.s(1, 1), t.add.s(2, 2))
    frozen_group = grouped.freeze()
    with_body = chord([t.add.s(1, 1)], t.tsum.s())
    frozen_chord = with_body.freeze()
    sent = (workflow.apply_async(), grouped.apply_async(), with_body.apply_async())
    drain(t.app)
    assert sent[0].id == frozen.id and sent[0].parent.id == frozen.parent.id
    assert sent[1].id == frozen_group.id and [r.id for r in sent[1]] == [r.id for r in frozen_group]
    assert sent[2].id == frozen_chord.id and sent[2].get(timeout=5) == 2
    again = chain(t.add.s(1, 1), t.add.s(1)).apply_async()
    assert again.id != sent[0].id  # sending without freezing takes new ids each time


def test_async_code_sends_a_workflow_without_blocking(t: Tasks) -> None:
    import anyio

    async def send() -> Any:
        try:
            return await chain(t.add.s(1, 1), t.add.s(1)).aapply_async()
        finally:
            await t.app.core.aclose()

    res = anyio.run(send)
    drain(t.app)
    assert res.get(timeout=5) == 3


def test_workflows_run_eagerly(prefix: str) -> None:
    app = make_app("memory://", prefix, task_always_eager=True)
    t = Tasks(app)
    res = chain(t.add.s(1, 2), t.add.s(3), group(t.add.s(1), t.add.s(2)), t.tsum.s()).delay()
    assert isinstance(res, EagerResult) and res.get() == 15
    assert isinstance(res.parent, GroupResult) and res.parent.get() == [7, 8]
    assert chord([t.add.s(1, 1), t.add.s(2, 2)], t.tsum.s()).apply_async().get() == 6
    assert t.add.chunks([(1, 1), (2, 2), (3, 3)], 2).apply_async().get() == [[2, 4], [6]]
    assert t.mul.starmap([(2, 3)]).apply().get() == [6]
    assert chain(t.add.s(1, 1), t.boom.s()).apply_async().state == "FAILURE"
    with pytest.raises(ZeroDivisionError):  # the next step asks for its value, as in Celery
        chain(t.add.s(1, 1), t.boom.s(), t.add.s(1)).apply_async()
    app.close()


def test_apply_runs_a_workflow_here(t: Tasks) -> None:
    res = chain(t.add.s(1, 1), t.mul.s(5)).apply()
    assert res.get() == 10 and res.parent.get() == 2
    assert group(t.add.s(1, 1), t.add.s(2, 2)).apply().get() == [2, 4]


# -- building and the dict shape --------------------------------------------------------


def test_or_builds_the_types_celery_builds(t: Tasks) -> None:
    a, b = t.add.s(1, 1), t.add.s(2)
    assert type(a | b) is _chain
    assert type(group(a, b) | t.tsum.s()) is _chord
    assert type(group(a, b) | group(a, b)) is _chain
    assert type(chord([a], t.tsum.s()) | b) is _chain
    assert (a | b).tasks == [a, b]
    assert len(group(a, b)) == 2 and list(group(a, b)) == [a, b]


def test_dict_shapes_match_celerys_and_round_trip(t: Tasks) -> None:
    real = RealCelery("real", set_as_current=False)

    @real.task(name=t.add.name)
    def add(x: int, y: int) -> int:
        return x + y

    @real.task(name=t.tsum.name)
    def tsum(values: list[int]) -> int:
        return sum(values)

    ours = {
        "chain": chain(t.add.s(1, 1), t.add.s(2)),
        "group": group(t.add.s(1, 1), t.add.s(2, 2)),
        "chord": chord([t.add.s(1, 1)], t.tsum.s()),
    }
    theirs = {
        "chain": real_chain(add.s(1, 1), add.s(2)),
        "group": real_group(add.s(1, 1), add.s(2, 2)),
        "chord": real_chord([add.s(1, 1)], tsum.s()),
    }
    for kind, workflow in ours.items():
        shape = workflow.to_dict()
        expected = dict(theirs[kind])
        assert shape["task"] == expected["task"] and shape["subtask_type"] == kind
        assert set(shape["kwargs"]) <= set(expected["kwargs"])
        rebuilt = maybe_signature(shape, app=t.app)
        assert type(rebuilt) is type(workflow) and rebuilt.to_dict() == shape
    # Celery's own dicts rebuild here as the same kinds
    for kind, workflow in theirs.items():
        rebuilt = signature(dict(workflow), app=t.app)
        assert type(rebuilt) is type(ours[kind])
    mapped = t.add.starmap([(1, 2)])
    assert isinstance(mapped, xstarmap) and type(signature(mapped.to_dict())) is xstarmap
    assert isinstance(t.add.map([1]), xmap) and mapped.task == "celery.starmap"
    parts = t.add.chunks([(1, 1)], 1)
    assert type(signature(parts.to_dict(), app=t.app)) is chunks
    assert isinstance(signature(t.add.s(1, 1).to_dict()), Signature)


def test_replace_swaps_fields_and_invert_waits(t: Tasks) -> None:
    sig = t.add.s(1, 2).set(queue="q1")
    other = sig.replace(args=(5, 5), options={"countdown": 1})
    assert (other.args, other.options, sig.args) == ((5, 5), {"countdown": 1}, (1, 2))
    assert sig.replace(kwargs={"y": 3}).kwargs == {"y": 3}
    t.app.conf.task_always_eager = True
    assert ~t.add.s(2, 2) == 4
    assert ~chain(t.add.s(1, 1), t.mul.s(3)) == 6


def test_clone_copies_the_parts(t: Tasks) -> None:
    workflow = chain(t.add.s(1, 1), t.add.s(2))
    clone = workflow.clone()
    clone.tasks[0].set(queue="elsewhere")
    assert "queue" not in workflow.tasks[0].options
    assert repr(workflow) == f"{t.add.name}(1, 1) | {t.add.name}(2)"


def test_signatures_of_shared_tasks_follow_the_current_app(prefix: str) -> None:
    from celeriac import shared_task

    @shared_task
    def early(x: int) -> int:  # made before the project's app exists
        return x + 1

    app = make_app("memory://", prefix)
    res = chain(early.s(1), early.s()).apply_async()
    assert res.app is app
    drain(app)
    assert res.get(timeout=5) == 3
    app.close()
