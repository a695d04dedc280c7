from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

import celeriac
from celeriac.cli.main import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert f"celeriac, version {celeriac.__version__}" in result.output


def test_python_dash_m_runs_the_same_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "celeriac", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0
    assert "drop-in replacement for Celery" in out.stdout
