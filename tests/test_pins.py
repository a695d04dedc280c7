"""The pinned versions (requirements/constraints.txt) agree with pyproject.toml's ranges and
are what the pinned .venv has; scripts/floors.py reads the ranges' lower ends."""

from __future__ import annotations

import importlib.util
import re
import sys
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s;@]+$")
EXTRAS = ("test", "bench", "uvloop")  # the extras scripts/pin resolves


def _pins() -> dict[str, str]:
    lines = [line.strip() for line in CONSTRAINTS.read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert all(PIN.match(line) for line in pins), [p for p in pins if not PIN.match(p)]
    found = {canonicalize_name(p.split("==")[0]): p.split("==")[1] for p in pins}
    assert len(found) == len(pins), "a package is pinned twice"
    return found


def test_the_pins_are_plain_and_cover_the_build_tools() -> None:
    """name==version lines only (no index, URL or hash of one machine), with the tools
    that install and build the package pinned too."""
    pins = _pins()
    assert {"pip", "setuptools", "wheel"} <= set(pins)


def test_every_requirement_is_pinned_within_its_range() -> None:
    """Each of the package's requirements (runtime and the extras CI and the benchmark
    install) is pinned, at a version its range in pyproject.toml allows: a range moved
    past the pins fails here, before a fresh machine finds it."""
    pins = _pins()
    for line in requires("celeriac") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        wanted = marker is None or any(marker.evaluate({"extra": e}) for e in ("", *EXTRAS))
        if not wanted:
            continue
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not pinned: run scripts/pin"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} is outside {requirement}: run scripts/pin"
        )


@pytest.mark.skipif(Path(sys.prefix).name != ".venv", reason="not the pinned .venv")
def test_the_pinned_venv_has_the_pinned_versions() -> None:
    mismatched = {}
    for name, pinned in _pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            continue  # pinned for an extra this venv does not have (bench)
        if installed != pinned:
            mismatched[name] = (pinned, installed)
    assert mismatched == {}


def _floors_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("floors", ROOT / "scripts" / "floors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_floors_are_the_lower_ends_of_the_runtime_ranges() -> None:
    floors = _floors_script().floors
    assert floors(
        [
            "redis[hiredis]>=5.0.1",
            "anyio>=4.7",
            "kombu<6,>=5.3",
            "uvloop>=0.19; sys_platform != 'win32' and extra == 'uvloop'",
            'pytest>=8; extra == "test"',
        ]
    ) == ["redis==5.0.1", "anyio==4.7", "kombu==5.3"]
    with pytest.raises(SystemExit, match="no lower bound"):
        floors(["msgpack"])


def test_floors_of_the_installed_package_name_each_runtime_dependency() -> None:
    floors = _floors_script().floors(requires("celeriac") or [])
    names = {line.split("==")[0] for line in floors}
    assert {"redis", "anyio", "click", "msgpack", "kombu", "tzdata"} <= names
    assert not {"pytest", "celery", "uvloop"} & names
