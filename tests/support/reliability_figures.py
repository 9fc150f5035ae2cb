"""The figures of a reliability run: printed by each test, and, when ``YTS_RELIABILITY_RESULTS``
names a folder (``make reliability`` sets it), kept there as ``figures.json`` (one entry per
test and database, the latest run of each) and ``figures.md`` (the same as a table)."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_ENV = "YTS_RELIABILITY_RESULTS"
COLUMNS = (
    ("database", "database"),
    ("commands", "commands"),
    ("2xx", "2xx"),
    ("4xx", "4xx"),
    ("5xx answers (retried)", "5xx"),
    ("unanswered", "no answer"),
    ("hung up", "hung up"),
    ("replayed", "replayed"),
    ("ran on retry", "ran on retry"),
    ("read back", "read back"),
    ("kills", "kills"),
    ("restarts", "restarts"),
    ("nats restarts", "NATS restarts"),
    ("nats node kills", "NATS node kills"),
    ("postgres cuts", "PostgreSQL cuts"),
    ("events", "events"),
    ("lost", "lost"),
    ("duplicated", "duplicated"),
    ("unexpected", "unexpected"),
    ("wrong", "wrong"),
    ("load seconds", "load s"),
    ("settle seconds", "settle s"),
    ("seconds", "seconds"),
)


def describe(figures: dict[str, Any]) -> str:
    return ", ".join(f"{name} {figures[name]}" for name, _ in COLUMNS if name in figures)


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def keep(run: str, figures: dict[str, Any]) -> Path | None:
    """Add (or replace) this run's figures in the results folder; None when none is set."""
    folder = os.environ.get(RESULTS_ENV)
    if not folder:
        return None
    results = Path(folder)
    results.mkdir(parents=True, exist_ok=True)
    store = results / "figures.json"
    with (results / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        runs: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
        runs[run] = {
            **figures,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _commit(),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        }
        store.write_text(json.dumps(runs, indent=2, sort_keys=True) + "\n")
        (results / "figures.md").write_text(table(runs))
    return store


def table(runs: dict[str, Any]) -> str:
    header = ["run", *(title for _, title in COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for run, figures in sorted(runs.items()):
        cells = [run, *(str(figures.get(name, "")) for name, _ in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    finished = sorted(f.get("finished", "") for f in runs.values())
    latest: dict[str, Any] = next(iter(runs.values()), {})
    machine, commit = latest.get("machine", ""), latest.get("commit", "")
    lines += ["", f"Last run finished {finished[-1] if finished else ''}; {machine}; {commit}."]
    return "\n".join(lines) + "\n"
