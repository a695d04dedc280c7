"""The import swap a user makes to migrate: ``celery`` becomes ``celeriac`` in import
statements (and in the one import written as a string, the pytest plugin's
``"celery.contrib.pytest"``) and in the command line, nothing else (queue names, strings
and settings that happen to say "celery" stay as they are).

    python -m compat_tests.swap PROJECT_DIR     rewrites every .py file under it in place
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

__all__ = ["swap_command", "swap_source", "swap_tree"]

# ``from celery import X``, ``from celery.result import Y``, ``import celery``,
# ``import celery.exceptions as e`` (a leading ``from .``/``proj.celery`` is not Celery)
_FROM = re.compile(r"^(\s*from\s+)celery(?=[\s.])", re.MULTILINE)
_IMPORT = re.compile(r"^(\s*import\s+)celery(?=[\s.,]|$)", re.MULTILINE)
_PLUGIN = re.compile(r"""(["'])celery\.contrib\.pytest\1""")


def swap_source(source: str) -> str:
    source = _IMPORT.sub(r"\1celeriac", _FROM.sub(r"\1celeriac", source))
    return _PLUGIN.sub(r"\1celeriac.contrib.pytest\1", source)


def swap_command(argv: list[str]) -> list[str]:
    """``celery -A proj worker`` → ``celeriac -A proj worker``, and ``python -m celery``
    → ``python -m celeriac``: the program only, never its arguments."""
    if argv and Path(argv[0]).name == "celery":
        return [str(Path(argv[0]).with_name("celeriac")), *argv[1:]]
    if argv[1:3] == ["-m", "celery"]:
        return [argv[0], "-m", "celeriac", *argv[3:]]
    return list(argv)


def swap_tree(root: Path) -> list[Path]:
    """Rewrite the imports of every Python file under ``root``; returns the files changed."""
    changed = []
    for path in sorted(root.rglob("*.py")):
        before = path.read_text()
        after = swap_source(before)
        if after != before:
            path.write_text(after)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in swap_tree(Path(sys.argv[1])):
        print(f"swapped {changed_path}")
