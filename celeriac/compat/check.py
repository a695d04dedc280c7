"""``celeriac check PATH``: read a Celery project and say what migrates as is, what
behaves differently and what is not supported, each with where it is and the docs page.

Read without running anything: Python files (imports from ``celery``, settings in
config modules, Django settings with ``CELERY_`` names, ``app.conf.update``,
``Celery(...)`` keywords, task decorator options, ``apply_async`` options) here, and the
files that start workers (Procfiles, compose files, systemd units, Dockerfiles, shell
scripts) by the command line's own check, against celeriac's commands.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._calling import IGNORED_OPTIONS
from ._settings import OLD_NAMES, SETTINGS
from .app import KNOWN_OPTIONS

__all__ = ["DIFFERS", "MIGRATES", "UNSUPPORTED", "Finding", "check_path", "render"]

MIGRATES, DIFFERS, UNSUPPORTED = "migrates", "differs", "unsupported"
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build", "dist"}
COMMAND_FILES = re.compile(
    r"(^Procfile.*|.*\.ya?ml|.*\.service|^Dockerfile.*|.*\.sh|^Makefile|.*\.ini|.*\.conf|.*\.toml)$"
)
CONFIG_DOCS = "docs/configuration.md"
# the apply_async options celeriac honours (the rest of Celery's have no effect)
CALL_OPTIONS = KNOWN_OPTIONS | {"args", "kwargs"}
TASK_OPTIONS = frozenset(
    {
        "name", "bind", "base", "max_retries", "default_retry_delay", "autoretry_for",
        "dont_autoretry_for", "retry_backoff", "retry_backoff_max", "retry_jitter",
        "retry_kwargs", "time_limit", "soft_time_limit", "ignore_result", "queue",
        "priority", "rate_limit", "typing", "track_started", "expires", "shadow_name",
        "routing_key", "exchange", "throws", "trail", "send_events", "resultrepr_maxsize",
        "pydantic", "filter", "lazy",
    }
)  # fmt: skip
TASK_DIFFERS = {
    "acks_late": "acknowledgement is always late: a task leaves its queue only once its "
    "outcome is recorded (docs/differences.md#delivery)",
    "acks_on_failure_or_timeout": "acknowledgement is always late (docs/differences.md)",
    "reject_on_worker_lost": "a lost worker's tasks run again once its heartbeats stop "
    "(docs/delivery.md)",
    "serializer": "one codec per app: task_serializer encodes every message "
    "(docs/differences.md#tasks)",
    "store_errors_even_if_ignored": "not supported: an ignored result is not stored "
    "(docs/configuration.md)",
}


@dataclass(frozen=True)
class Finding:
    """One thing found: where, what, its verdict and why."""

    path: str
    line: int
    kind: str  # import, setting, task option, call option, command
    what: str
    verdict: str  # migrates, differs or unsupported
    note: str = ""


def check_path(root: Path, commands: Callable[[str, str], list[Finding]]) -> list[Finding]:
    """Everything ``celeriac check`` reports for the project at ``root``; ``commands``
    reads the command lines of a file that is not Python (the command line's part)."""
    findings: list[Finding] = []
    for path in _files(root):
        shown = str(path.relative_to(root)) if root.is_dir() else path.name
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        findings += _python(shown, text) if path.suffix == ".py" else commands(shown, text)
    return findings


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if any(part in SKIPPED_DIRS for part in path.relative_to(root).parts):
            continue
        if path.is_file() and (path.suffix == ".py" or COMMAND_FILES.match(path.name)):
            yield path


# -- Python ---------------------------------------------------------------------------


def _python(path: str, text: str) -> list[Finding]:
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 0, "file", "Python", DIFFERS, f"not read: {exc.msg}")]
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += _imports(path, node)
        elif isinstance(node, ast.Call):
            found += _call(path, node)
        elif isinstance(node, ast.Assign):
            found += _conf_attribute(path, node)
    found += _module_settings(path, tree)
    return found


def _imports(path: str, node: ast.Import | ast.ImportFrom) -> list[Finding]:
    found = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == "celery" or alias.name.startswith("celery."):
                found.append(_module_finding(path, node.lineno, alias.name, ()))
    elif node.module and (node.module == "celery" or node.module.startswith("celery.")):
        names = tuple(alias.name for alias in node.names)
        found.append(_module_finding(path, node.lineno, node.module, names))
    return found


def _module_finding(path: str, line: int, module: str, names: Sequence[str]) -> Finding:
    ours = "celeriac" + module[len("celery") :]
    shown = f"from {module} import {', '.join(names)}" if names else f"import {module}"
    try:
        imported = importlib.import_module(ours)
    except ImportError:
        note = f"{ours} does not exist: not supported (docs/celery.md)"
        return Finding(path, line, "import", shown, UNSUPPORTED, note)
    missing = [n for n in names if n != "*" and not _has(imported, ours, n)]
    if missing:
        note = f"{ours} has no {', '.join(missing)} (docs/celery.md)"
        return Finding(path, line, "import", shown, UNSUPPORTED, note)
    return Finding(path, line, "import", shown, MIGRATES, f"as {ours}")


def _has(module: Any, name: str, attr: str) -> bool:
    """Whether ``from <name> import <attr>`` works: an attribute, or a submodule."""
    if hasattr(module, attr):
        return True
    try:
        importlib.import_module(f"{name}.{attr}")
    except ImportError:
        return False
    return True


def _call(path: str, node: ast.Call) -> list[Finding]:
    name = _called_name(node.func)
    keywords = [k for k in node.keywords if k.arg is not None]
    if name in ("task", "shared_task"):
        return [_task_option(path, k) for k in keywords]
    if name in ("apply_async", "send_task"):
        return [_call_option(path, k) for k in keywords]
    if name == "update" and _is_conf(node.func):
        found = [_setting(path, k.lineno, str(k.arg)) for k in keywords]
        for arg in node.args:
            if isinstance(arg, ast.Dict):
                found += [
                    _setting(path, key.lineno, key.value)
                    for key in arg.keys
                    if isinstance(key, ast.Constant) and isinstance(key.value, str)
                ]
        return found
    if name == "Celery":
        aliases = {"broker": "broker_url", "backend": "result_backend"}
        skip = {"main", "loader", "amqp", "events", "log", "control", "set_as_current",
                "tasks", "include", "changes", "config_source", "fixups", "task_cls",
                "autofinalize", "namespace", "strict_typing"}  # fmt: skip
        return [
            _setting(path, k.lineno, aliases.get(str(k.arg), str(k.arg)))
            for k in keywords
            if k.arg not in skip
        ]
    return []


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _is_conf(func: ast.expr) -> bool:
    """``<something>.conf.update``."""
    return (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "conf"
    )


def _task_option(path: str, keyword: ast.keyword) -> Finding:
    name = str(keyword.arg)
    what = f"task option {name}"
    if name in TASK_DIFFERS:
        return Finding(path, keyword.lineno, "task option", what, DIFFERS, TASK_DIFFERS[name])
    if name in TASK_OPTIONS:
        return Finding(path, keyword.lineno, "task option", what, MIGRATES)
    note = "not known to celeriac: set as an attribute of the task, nothing reads it"
    return Finding(path, keyword.lineno, "task option", what, UNSUPPORTED, note)


def _call_option(path: str, keyword: ast.keyword) -> Finding:
    name = str(keyword.arg)
    what = f"apply_async option {name}"
    if name in CALL_OPTIONS:
        return Finding(path, keyword.lineno, "call option", what, MIGRATES)
    if name in IGNORED_OPTIONS:
        note = "accepted, no effect (AMQP or connection detail; docs/celery.md#calling)"
        return Finding(path, keyword.lineno, "call option", what, DIFFERS, note)
    note = "not known to celeriac: warned about and ignored (docs/celery.md#calling)"
    return Finding(path, keyword.lineno, "call option", what, UNSUPPORTED, note)


def _conf_attribute(path: str, node: ast.Assign) -> list[Finding]:
    """``app.conf.name = value``."""
    return [
        _setting(path, node.lineno, target.attr)
        for target in node.targets
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Attribute)
        and target.value.attr == "conf"
    ]


def _module_settings(path: str, tree: ast.Module) -> list[Finding]:
    """Module-level ``name = value`` that are settings: Celery's names, their old
    upper-case ones, or ``CELERY_``-prefixed ones (a Django settings module)."""
    found = []
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            name = _setting_name(target.id)
            if name is not None:
                found.append(_setting(path, node.lineno, name, shown=target.id))
    return found


def _setting_name(name: str) -> str | None:
    if name in SETTINGS:
        return name
    if name in OLD_NAMES:
        return OLD_NAMES[name]
    if name.startswith("CELERY_"):
        rest = name[len("CELERY_") :]
        for candidate in (rest.lower(), OLD_NAMES.get(rest), OLD_NAMES.get(name)):
            if candidate is not None and candidate in SETTINGS:
                return candidate
        return name  # a CELERY_ name that is no setting: reported as unknown
    return None


def _setting(path: str, line: int, name: str, shown: str | None = None) -> Finding:
    what = f"setting {shown or name}"
    setting = SETTINGS.get(name)
    if setting is None:
        note = f"not a Celery setting celeriac knows: warned about and ignored ({CONFIG_DOCS})"
        return Finding(path, line, "setting", what, UNSUPPORTED, note)
    anchor = f"{CONFIG_DOCS}#{setting.namespace}"
    if setting.support == "honoured":
        note = setting.note.replace("(see URLs above)", f"({CONFIG_DOCS})")
        return Finding(path, line, "setting", what, MIGRATES, note)
    verdict = DIFFERS if setting.support == "no_effect" else UNSUPPORTED
    label = "no effect" if verdict == DIFFERS else "not supported"
    return Finding(path, line, "setting", what, verdict, f"{label}: {setting.note} ({anchor})")


# -- the report -----------------------------------------------------------------------

HEADINGS = {
    MIGRATES: "Migrates as is",
    DIFFERS: "Behaves differently",
    UNSUPPORTED: "Not supported",
}


def render(findings: Sequence[Finding], root: str) -> str:
    """The report, grouped by verdict."""
    lines = [f"celeriac check {root}", ""]
    if not findings:
        lines.append("Nothing of Celery found here.")
        return "\n".join(lines)
    for verdict in (UNSUPPORTED, DIFFERS, MIGRATES):
        chosen = sorted((f for f in findings if f.verdict == verdict), key=_place)
        if not chosen:
            continue
        lines.append(f"{HEADINGS[verdict]} ({len(chosen)}):")
        if verdict == MIGRATES:  # the same thing in many places: once, with a count
            lines += _grouped(chosen)
        else:
            lines += [f"  {f.path}:{f.line}: {f.what}{_note(f)}" for f in chosen]
        lines.append("")
    swaps = sum(1 for f in findings if f.kind in ("import", "command"))
    counts = {v: sum(1 for f in findings if f.verdict == v) for v in HEADINGS}
    lines.append(
        f"{counts[MIGRATES]} migrate as is, {counts[DIFFERS]} behave differently, "
        f"{counts[UNSUPPORTED]} not supported. To migrate, change celery to celeriac in "
        f"the {swaps} import(s) and command line(s) above."
    )
    return "\n".join(lines)


def _place(finding: Finding) -> tuple[str, int]:
    return finding.path, finding.line


def _note(finding: Finding) -> str:
    return f" — {finding.note}" if finding.note else ""


def _grouped(findings: Sequence[Finding]) -> list[str]:
    by_what: dict[str, list[Finding]] = {}
    for finding in findings:
        by_what.setdefault(finding.what if finding.kind != "import" else finding.note, []).append(
            finding
        )
    lines = []
    for what, same in sorted(by_what.items()):
        first = same[0]
        more = f", +{len(same) - 1} more" if len(same) > 1 else ""
        label = f"imports {what}" if first.kind == "import" else f"{what}{_note(first)}"
        lines.append(f"  {label} ({first.path}:{first.line}{more})")
    return lines
