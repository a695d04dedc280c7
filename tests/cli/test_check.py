"""``celeriac check PATH``: a Celery project read (never run), each finding with its
verdict and where it is; the compat suite's project migrates with nothing unsupported."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from celeriac.cli.check import command_findings
from celeriac.cli.main import cli
from celeriac.compat.check import MIGRATES, UNSUPPORTED, check_path

PROJECT = Path(__file__).resolve().parents[2] / "compat_tests" / "project"

FILES = {
    "proj/celeryconfig.py": (
        'broker_url = "redis://localhost:6379/0"\ntask_acks_late = True\nworker_direct = True\n'
    ),
    "proj/settings.py": (
        'DEBUG = True\nCELERY_BROKER_URL = "redis://x"\nCELERY_TASK_ALWAYS_EAGER = False\n'
        "CELERY_MADE_UP = 1\n"
    ),
    "proj/tasks.py": (
        "from celery import shared_task, signals\n"
        "from celery.contrib.abortable import AbortableTask\n\n\n"
        '@shared_task(bind=True, acks_late=True, colour="blue")\n'
        "def add(self, x, y):\n    return x + y\n\n\n"
        "add.apply_async((1, 2), countdown=5, mandatory=True, bogus=1)\n"
        "app.conf.update(task_default_queue='jobs', worker_direct=True)\n"
        "app.conf.timezone = 'Europe/Paris'\n"
    ),
    "Procfile": (
        "web: gunicorn proj.wsgi\n"
        "worker: celery -A proj worker -l info -P gevent -c 100\n"
        "beat: celery -A proj beat -l info --max-interval 5\n"
    ),
    "docker-compose.yml": (
        "services:\n  worker:\n    command: celery -A proj worker --autoscale=10,3 --uid 1000\n"
        '  flower:\n    command: ["celery", "-A", "proj", "flower"]\n'
    ),
    "worker.service": "[Service]\nExecStart=/srv/venv/bin/celery -A proj worker -linfo -E\n",
}


def _write(root: Path) -> None:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_each_finding_has_its_verdict_and_place(tmp_path: Path) -> None:
    _write(tmp_path)
    findings = check_path(tmp_path, lambda path, text: command_findings(path, text, cli.commands))
    found = {(f.path, f.line, f.what): f.verdict for f in findings}
    expected = {
        ("proj/celeryconfig.py", 1, "setting broker_url"): MIGRATES,
        ("proj/celeryconfig.py", 2, "setting task_acks_late"): "differs",
        ("proj/celeryconfig.py", 3, "setting worker_direct"): UNSUPPORTED,
        ("proj/settings.py", 2, "setting CELERY_BROKER_URL"): MIGRATES,
        ("proj/settings.py", 3, "setting CELERY_TASK_ALWAYS_EAGER"): MIGRATES,
        ("proj/settings.py", 4, "setting CELERY_MADE_UP"): UNSUPPORTED,
        ("proj/tasks.py", 1, "from celery import shared_task, signals"): MIGRATES,
        ("proj/tasks.py", 2, "from celery.contrib.abortable import AbortableTask"): UNSUPPORTED,
        ("proj/tasks.py", 5, "task option bind"): MIGRATES,
        ("proj/tasks.py", 5, "task option acks_late"): "differs",
        ("proj/tasks.py", 5, "task option colour"): UNSUPPORTED,
        ("proj/tasks.py", 10, "apply_async option countdown"): MIGRATES,
        ("proj/tasks.py", 10, "apply_async option mandatory"): "differs",
        ("proj/tasks.py", 10, "apply_async option bogus"): UNSUPPORTED,
        ("proj/tasks.py", 11, "setting task_default_queue"): MIGRATES,
        ("proj/tasks.py", 11, "setting worker_direct"): UNSUPPORTED,
        ("proj/tasks.py", 12, "setting timezone"): MIGRATES,
        ("Procfile", 2, "celery -A proj worker -l info -P gevent -c 100"): UNSUPPORTED,
        ("Procfile", 3, "celery -A proj beat -l info --max-interval 5"): MIGRATES,
        ("docker-compose.yml", 3, "celery -A proj worker --autoscale=10,3 --uid 1000"): UNSUPPORTED,
        ("docker-compose.yml", 5, "celery -A proj flower"): UNSUPPORTED,
        ("worker.service", 2, "celery -A proj worker -linfo -E"): MIGRATES,
    }
    assert found == expected


def test_the_command_prints_the_report_and_strict_fails_on_unsupported(tmp_path: Path) -> None:
    _write(tmp_path)
    shown = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert shown.exit_code == 0
    text = shown.output
    assert text.index("Not supported (9):") < text.index("Behaves differently (3):")
    assert "Procfile:2: celery -A proj worker -l info -P gevent -c 100 — gevent/eventlet" in text
    assert "docs/configuration.md#worker" in text
    assert "To migrate, change celery to celeriac in the 7 import(s) and command line(s)" in text
    strict = CliRunner().invoke(cli, ["check", "--strict", str(tmp_path)])
    assert strict.exit_code == 1


def test_the_compat_suites_project_has_nothing_unsupported() -> None:
    findings = check_path(PROJECT, command_findings)
    assert findings and not [f for f in findings if f.verdict == UNSUPPORTED]
    assert CliRunner().invoke(cli, ["check", "--strict", str(PROJECT)]).exit_code == 0


def test_an_empty_folder(tmp_path: Path) -> None:
    shown = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert "Nothing of Celery found here." in shown.output


def test_a_file_that_does_not_parse_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from celery import (\n")
    (found,) = check_path(tmp_path, command_findings)
    assert (found.path, found.verdict) == ("broken.py", "differs")
    assert found.note.startswith("not read:")
