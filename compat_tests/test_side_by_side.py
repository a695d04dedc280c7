"""Each scenario of the project's driver, compared between Celery and celeriac: the
same calls must show users the same states, values, exception types and messages,
ordering and time windows; and the project's own test suite must pass under both."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from compat_tests.conftest import scenario_names

# What celeriac shows differently on purpose, each listed in docs/differences.md:
# scenario → {dotted path in its observation: what celeriac shows there}.
INTENTIONAL: dict[str, dict[str, Any]] = {
    # Celery's TimeLimitExceeded holds the bare limit and prints "TimeLimitExceeded(1,)"
    "call_time_limits": {"hard.text": "hard time limit (1.0s) exceeded"},
    "hard_time_limit": {
        "caught.text": "hard time limit (1.0s) exceeded",
        "caught.args": ["'hard time limit (1.0s) exceeded'"],
    },
    # Celery 5.7 calls the errback and sends task_failure twice for a hard time limit
    # (from its timeout handler and again as the pool reports the job), then a
    # task_postrun with state None; celeriac calls each once, and no task_postrun runs
    # (the task's process was killed before it could finish)
    "hard_time_limit_callbacks": {
        "errback": [{"task": "proj.tasks.audited_slow", "type": "TimeLimitExceeded"}],
        "signals": ["task_prerun:proj.tasks.audited_slow", "task_failure:TimeLimitExceeded"],
    },
    # Celery never sends the steps after a revoked one (they stay PENDING for ever);
    # celeriac records them as failed, with the revocation as their error
    "canvas_revoked_step": {"second": "FAILURE"},
    # a chord whose header never ran (a step before it failed): Celery leaves the header
    # tasks PENDING and gives the body the earlier error; celeriac fails them with that
    # error, and the body with a ChordError naming the first of them (get() raises the
    # earlier error under both)
    "canvas_failure_before_a_group": {
        "members": ["FAILURE", "FAILURE"],
        "last": ["FAILURE", "ChordError"],
    },
}


def _pop(observation: dict[str, Any], path: str) -> Any:
    *parents, last = path.split(".")
    for key in parents:
        observation = observation[key]
    return observation.pop(last)


@pytest.mark.slow
@pytest.mark.parametrize("name", scenario_names())
def test_celeriac_matches_celery(name: str, observed: dict[str, dict[str, Any]]) -> None:
    under_celery = copy.deepcopy(observed["celery"][name])
    under_celeriac = copy.deepcopy(observed["celeriac"][name])
    assert "scenario_error" not in under_celery, under_celery["scenario_error"]
    for path, ours in INTENTIONAL.get(name, {}).items():
        theirs = _pop(under_celery, path)
        assert _pop(under_celeriac, path) == ours
        assert theirs != ours, f"{name}: {path} now matches Celery; drop it from INTENTIONAL"
    assert under_celeriac == under_celery


@pytest.mark.slow
def test_projects_own_suite_passes_after_the_swap(
    project_suites: dict[str, tuple[int, dict[str, str], str]],
) -> None:
    code, outcomes, tail = project_suites["celery"]
    assert code == 0 and outcomes, f"the project's suite fails under Celery itself:\n{tail}"
    assert set(outcomes.values()) == {"PASSED"}
    swapped_code, swapped_outcomes, swapped_tail = project_suites["celeriac"]
    assert swapped_outcomes == outcomes, swapped_tail
    assert swapped_code == 0, swapped_tail
