"""The import swap rewrites what a user would, and nothing else."""

from __future__ import annotations

from pathlib import Path

from compat_tests.swap import swap_command, swap_source, swap_tree


def test_imports_are_swapped() -> None:
    source = (
        "from celery import Celery, shared_task\n"
        "from celery.result import AsyncResult\n"
        "import celery\n"
        "import celery.exceptions as errors\n"
        "    from celery.utils.log import get_task_logger\n"
    )
    assert swap_source(source) == source.replace("celery", "celeriac")


def test_the_pytest_plugin_string_is_swapped() -> None:
    assert swap_source('pytest_plugins = ("celery.contrib.pytest",)') == (
        'pytest_plugins = ("celeriac.contrib.pytest",)'
    )


def test_other_mentions_of_celery_stay() -> None:
    source = (
        "from proj.celery import app\n"
        "from .celery import app\n"
        "import celeryconfig\n"
        'task_default_queue = "celery"\n'
        "app = Celery('celery')  # celery rocks\n"
    )
    assert swap_source(source) == source


def test_command_program_is_swapped() -> None:
    assert swap_command(["/venv/bin/celery", "-A", "celery", "worker"]) == [
        "/venv/bin/celeriac",
        "-A",
        "celery",
        "worker",
    ]
    assert swap_command(["python", "-m", "celery", "-A", "celery"]) == [
        "python", "-m", "celeriac", "-A", "celery",
    ]  # fmt: skip
    assert swap_command(["python", "-m", "celeryish"]) == ["python", "-m", "celeryish"]


def test_tree_rewrites_only_changed_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from celery import Celery\n")
    (tmp_path / "b.py").write_text("x = 1\n")
    assert swap_tree(tmp_path) == [tmp_path / "a.py"]
    assert (tmp_path / "a.py").read_text() == "from celeriac import Celery\n"
