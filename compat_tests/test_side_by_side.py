"""Each project's scenarios, compared between Celery and celeriac: the same calls must
show users the same states, values, exception types and messages, ordering, time
windows and beat ticks; and each project's own test suite must pass under both. The
projects run one after the other (their fixtures are scoped to one project)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compat_tests.conftest import PROJECTS, ROWS, Flavour, observe, own_suites, running, scenarios
from compat_tests.matrix import compare, compare_suites
from tests.celery_reference import celery_reference
from tests.redis_server import RedisServer

# What celeriac shows differently on purpose, each listed in docs/differences.md:
# (project, scenario) → {dotted path in its observation: what celeriac shows there}.
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" in metafunc.fixturenames:
        cases = [(key, s) for key, project in PROJECTS.items() for s in scenarios(project)]
        ids = [f"{key}-{s[0]}" for key, s in cases]
        metafunc.parametrize(("project_key", "scenario"), cases, ids=ids, scope="module")
    elif "project_key" in metafunc.fixturenames:
        metafunc.parametrize("project_key", list(PROJECTS), scope="module")


@pytest.fixture(scope="module")
def flavours(
    project_key: str, tmp_path_factory: pytest.TempPathFactory, redis_for_projects: RedisServer
) -> Iterator[list[Flavour]]:
    root: Path = tmp_path_factory.mktemp(f"compat-{project_key}")
    with running(PROJECTS[project_key], root, redis_for_projects) as started:
        yield started


@pytest.fixture(scope="module")
def observed(flavours: list[Flavour]) -> dict[str, dict[str, Any]]:
    return observe(flavours)


@pytest.fixture(scope="module")
def project_suites(project_key: str, flavours: list[Flavour]) -> dict[str, Any]:
    return own_suites(PROJECTS[project_key], flavours)


@celery_reference
@pytest.mark.slow
def test_celeriac_matches_celery(
    project_key: str, scenario: tuple[str, str], observed: dict[str, dict[str, Any]]
) -> None:
    intentional = INTENTIONAL.get(scenario[0], {}) if project_key == "plain" else {}
    compare(ROWS, project_key, scenario, observed, intentional)


@pytest.mark.slow
def test_projects_own_suite_passes_after_the_swap(
    project_key: str, project_suites: dict[str, Any]
) -> None:
    compare_suites(ROWS, project_key, project_suites)
