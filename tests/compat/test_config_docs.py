"""docs/configuration.md is generated from the settings table and kept up to date, and the
configuration modules load without Celery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from celeriac.compat._settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "configuration.md"


def test_the_configuration_reference_is_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-config-docs"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_setting_has_a_row_with_its_old_name() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS.values() if f"| `{s.name}` | `{s.old[0]}` |" not in text]
    assert not missing


def test_the_configuration_modules_import_neither_celery_nor_kombu() -> None:
    code = (
        "import sys, celeriac.compat.config; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'celery', 'kombu', 'django'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"
