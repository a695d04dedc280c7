"""Imports point down only: cli -> compat -> core. core knows nothing of Celery."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "celeriac"
ORDER = ["celeriac.core", "celeriac.compat", "celeriac.cli"]  # lowest first


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (
                package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            )
            target = ".".join([*base, node.module] if node.module else base)
            found += [target] + [f"{target}.{alias.name}" for alias in node.names]
    return found


def _layer(name: str) -> int | None:
    for rank, prefix in enumerate(ORDER):
        if name == prefix or name.startswith(prefix + "."):
            return rank
    return None


def _files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_imports_point_down(path: Path) -> None:
    own = _layer(_module_name(path))
    if own is None:
        return
    upward = [name for name in _imports(path) if (_layer(name) or -1) > own]
    assert not upward, f"{path.name} imports from a higher layer: {upward}"


def test_core_never_imports_celery_or_kombu() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        names = _imports(path)
        assert not [n for n in names if n.split(".")[0] in ("celery", "kombu")], path


def test_the_checker_sees_relative_imports() -> None:
    sample = PACKAGE / "core" / "worker" / "run.py"
    assert "celeriac.core.app.App" in _imports(sample)
