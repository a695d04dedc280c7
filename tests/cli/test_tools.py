"""``celeriac call``, ``result`` and ``report`` through the command line."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner

from celeriac.cli.main import cli
from celeriac.compat.app import Celery
from tests.compat.conftest import drain, make_app
from tests.redis_server import free_port


def _invoke(app: Celery, *argv: str) -> Any:
    return CliRunner().invoke(cli, list(argv), obj={"app": app})


def test_call_then_result(redis_url: str, prefix: str) -> None:
    app = make_app(redis_url, prefix)

    @app.task(name="tests.add")
    def add(x: int, y: int = 0) -> int:
        return x + y

    @app.task(name="tests.fail")
    def fail() -> None:
        raise ZeroDivisionError("no way")

    sent = _invoke(app, "call", "tests.add", "-a", "[2]", "-k", '{"y": 10}')
    assert sent.exit_code == 0, sent.output
    task_id = sent.output.strip()
    failing = _invoke(app, "call", "tests.fail", "--countdown", "0").output.strip()
    drain(app)
    shown = _invoke(app, "result", task_id)
    assert (shown.exit_code, shown.output) == (0, "12\n")
    failed = _invoke(app, "result", failing)
    assert failed.exit_code == 1 and "ZeroDivisionError: no way" in failed.output
    traced = _invoke(app, "result", failing, "--traceback")
    assert traced.exit_code == 0 and "Traceback" in traced.output and "no way" in traced.output
    waited = _invoke(app, "result", "never-sent", "--timeout", "0.2")
    assert waited.exit_code == 1 and "TimeoutError" in waited.output
    app.close()


def test_call_refuses_bad_arguments_and_reports_a_broker_that_is_down(prefix: str) -> None:
    app = make_app("memory://", prefix)
    bad = _invoke(app, "call", "tests.add", "-a", "[2,")
    assert bad.exit_code == 2 and "--args must be JSON" in bad.output
    wrong = _invoke(app, "call", "tests.add", "-k", "[1]")
    assert wrong.exit_code == 2 and "must be a JSON dict" in wrong.output
    down = make_app(f"redis://127.0.0.1:{free_port()}/0", prefix, task_publish_retry=False)
    refused = _invoke(down, "call", "tests.add")
    assert refused.exit_code == 1 and "Error:" in refused.output
    assert "Traceback" not in refused.output


def test_report_shows_versions_and_settings_without_secrets(prefix: str) -> None:
    app = Celery("reported", broker="redis://:secret@localhost:6379/0")
    app.conf.task_default_queue = "jobs"
    shown = _invoke(app, "report")
    assert shown.exit_code == 0
    text = shown.output
    assert text.startswith("software -> celeriac:")
    assert "settings -> transport:redis results:disabled" in text
    assert "task_default_queue: 'jobs'" in text
    assert "secret" not in text and "********" in text
    assert app.bugreport() + "\n" == text


def test_purge_asks_first_then_empties_the_known_queues(redis_url: str, prefix: str) -> None:
    app = make_app(redis_url, prefix, task_routes={"tests.routed": {"queue": "special"}})
    assert app.known_queues() == ["celery", "special"]
    for _ in range(3):
        app.send_task("tests.add", (1, 1))
    app.send_task("tests.routed", countdown=60)
    app.send_task("tests.elsewhere", queue="unknown-to-the-app")
    refused = CliRunner().invoke(cli, ["purge"], obj={"app": app}, input="n\n")
    assert refused.exit_code == 1 and "There is no undo" in refused.output
    assert "2 queues: celery, special" in refused.output
    assert app.core.sync_broker.stats("celery").ready == 3  # nothing removed
    done = _invoke(app, "purge", "-f")
    assert done.exit_code == 0
    assert done.output == "Purged 4 messages from 2 known task queues.\n"
    again = _invoke(app, "purge", "-f", "-Q", "celery,unknown-to-the-app", "-X", "celery")
    assert again.output == "Purged 1 message from 1 known task queue.\n"
    empty = _invoke(app, "purge", "-f")
    assert empty.output == "No messages purged from 2 queues.\n"
    app.send_task("tests.add", (1, 1))
    assert app.control.purge() == 1 and app.control.discard_all() == 0
    app.close()
