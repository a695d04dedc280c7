"""The Celery whose behaviour the comparisons are written against: the one pinned in
requirements/constraints.txt.

A test marked ``@celery_reference`` compares celeriac with Celery's own behaviour (its
settings, hooks, canvas shapes, states). Where an older Celery is installed it is skipped:
``scripts/test --lowest`` holds kombu at its floor, which only an old Celery (5.3) goes
with, and that Celery differs from the reference in places where celeriac follows the
reference. A newer Celery (``--latest``) runs them: they then show where Celery moved.
"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

__all__ = ["INSTALLED", "REFERENCE", "celery_reference"]

CONSTRAINTS = Path(__file__).resolve().parents[1] / "requirements" / "constraints.txt"


def _major_minor(text: str) -> tuple[int, int]:
    major, minor = re.findall(r"\d+", text)[:2]
    return int(major), int(minor)


def _pinned() -> tuple[int, int]:
    found = re.search(r"^celery==(\S+)$", CONSTRAINTS.read_text(), re.MULTILINE)
    assert found is not None, f"celery is not pinned in {CONSTRAINTS}"
    return _major_minor(found.group(1))


REFERENCE = _pinned()
INSTALLED = _major_minor(version("celery"))

celery_reference = pytest.mark.skipif(
    INSTALLED < REFERENCE,
    reason=(
        f"compares with Celery {REFERENCE[0]}.{REFERENCE[1]}'s behaviour; Celery "
        f"{INSTALLED[0]}.{INSTALLED[1]} is installed (the --lowest resolution)"
    ),
)
