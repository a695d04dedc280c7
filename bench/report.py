"""Machine facts and the Markdown table."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from importlib import metadata

from bench.scenarios import Row, Settings

TIMES = "\u00d7"  # the multiplication sign

PACKAGES = (
    "celeriac",
    "celery",
    "kombu",
    "billiard",
    "streaq",
    "coredis",
    "redis",
    "anyio",
    "uvloop",
    "gevent",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def redis_version() -> str:
    try:
        out = subprocess.run(
            ["redis-server", "--version"], check=False, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    match = re.search(r"v=(\S+)", out)
    return match.group(1) if match else out.strip()


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> list[str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    packages = ", ".join(f"{name} {version(name)}" for name in PACKAGES)
    return [
        f"- date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start {load}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"redis-server {redis_version()}, {platform.system()} {platform.release()}",
        f"- packages: {packages}",
    ]


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _row(rows: list[Row], scenario: str, key: str) -> Row | None:
    return next((r for r in rows if r.scenario == scenario and r.variant.key == key), None)


def _ratio(row: Row, rows: list[Row]) -> str:
    """How many times better the row's reference (celeriac's own row) is than the row."""
    ref = _row(rows, row.scenario, row.variant.ref)
    if ref is None or ref is row:
        return ""
    return _times(ref, row)


def _times(better: Row, than: Row) -> str:
    """``better`` against ``than``: rates divided, latencies (p50, p99) the other way."""
    if better.error or than.error:
        return ""
    if better.scenario == "latency":
        if not (better.p50 and than.p50 and better.p99 and than.p99):
            return ""
        return f"{than.p50 / better.p50:.2f}{TIMES} (p99 {than.p99 / better.p99:.2f}{TIMES})"
    if not (better.rate and than.rate):
        return ""
    return f"{better.rate / than.rate:.2f}{TIMES}"


def _versus(row: Row, rows: list[Row]) -> str:
    """For a row that runs another row's project after the swap: its gain over that row
    ("3.20x Celery prefork -c 2's", with the multiplication sign)."""
    other = _row(rows, row.scenario, row.variant.vs) if row.variant.vs else None
    gain = _times(row, other) if other is not None else ""
    return f"{gain} {other.variant.label}'s" if other is not None and gain else ""


def commands_table(rows: list[Row], settings: Settings) -> list[str]:
    rows = [r for r in rows if r.scenario == "commands"]
    if not rows:
        return []
    lines = [
        f"Redis traffic per task while one worker drains {settings.commands_n:,} no-op tasks "
        "(counted with MONITOR; the probe's own commands left out):",
        "",
        "| system | commands sent / task | commands run / task | most frequent (per task) |",
        "|---|--:|--:|---|",
    ]
    for row in rows:
        if row.error:
            lines.append(f"| {row.variant.label} | — | — | **{row.error}** |")
            continue
        cells = [row.variant.label, _fmt(row.round_trips, 3), _fmt(row.commands, 2)]
        lines.append("| " + " | ".join([*cells, "; ".join(row.notes)]) + " |")
    return [*lines, ""]


def table(rows: list[Row], settings: Settings) -> list[str]:
    lines = [
        f"| scenario | system | tasks/s | p50 ms | p99 ms | celeriac {TIMES} | notes |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        if row.scenario == "commands":
            continue
        notes = [row.variant.note.format(batch=settings.batch)] if row.variant.note else []
        notes += row.notes
        notes.append(_versus(row, rows))
        if row.error:
            notes.insert(0, f"**{row.error}**")
        cells = [
            row.scenario,
            row.variant.label,
            _fmt(row.rate, 0) if not row.error else "—",
            _fmt(row.p50, 2),
            _fmt(row.p99, 2),
            _ratio(row, rows),
            "; ".join(n for n in notes if n).replace("|", "/"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render(rows: list[Row], settings: Settings, info: list[str]) -> str:
    s = settings
    parts = [
        "# celeriac vs Celery vs streaQ",
        "",
        *info,
        f"- N: enqueue/drain {s.n:,}, sleep {s.sleep_n:,} (10 ms each), "
        f"latency {s.latency_n:,} round trips, chord {s.chord_n:,} header tasks, "
        f"chain {s.chain_n:,} steps",
        "",
        *table(rows, settings),
        "",
        *commands_table(rows, settings),
        f"celeriac {TIMES} = celeriac's tasks/s ÷ the row's (latency: the row's ms ÷ celeriac's), "
        "so above 1 means celeriac is better.",
        "",
        "How it is measured:",
        "",
        "- Each row runs on its own fresh redis-server (loopback, no persistence); every "
        "producer runs in a subprocess of its own; task logging at WARNING.",
        "- enqueue: the client's own clock around the send loop (100 warm-up sends "
        "excluded); no worker running.",
        "- drain / sleep: the tasks are enqueued first, then one worker process starts. "
        "A probe reads the queue and the result count every 5 ms; t0 = the queue first "
        "shrinks (start-up not counted), t1 = all N results stored; tasks/s = N / (t1 - t0).",
        "- latency: worker warmed up (50 round trips), then sequential "
        "enqueue → wait-for-result round trips from the client.",
        "- chord / chain: a warmed-up worker; one chord (no-op header tasks, a body "
        "summing them) or one chain (steps adding one), timed from the client's send to "
        "its result; tasks/s = tasks in the workflow / seconds.",
        '- commands: MONITOR reports each command with its source. "Sent" are the '
        "commands the worker's connections send (each a round trip unless pipelined); "
        '"run" adds those Lua scripts run inside Redis, which cost no round trip.',
        "- Celery runs with its defaults (prefetch multiplier 4, acks early, json, Redis "
        "result backend in database 1) plus --without-gossip/mingle/heartbeat.",
        "",
    ]
    return "\n".join(parts)
