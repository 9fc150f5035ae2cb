"""The command that rebuilds the read models from the streams, without downtime:
``yts reporting rebuild`` (or ``python -m yts_reporting.rebuild``), with the service's own
``YTS_REPORTING_*`` settings. What it does is ``replay.rebuild``; this is its command line and
its progress bar.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from yts_chassis.logs import configure_logging
from yts_chassis.settings import load_settings

from yts_reporting.generations import RebuildRefused
from yts_reporting.replay import Progress, Silent, rebuild
from yts_reporting.settings import ReportingSettings


class RichProgress:
    """A progress bar with the replay rate, on the terminal (or plain lines when piped)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8,.0f} events/s"),
            TimeElapsedColumn(),
        )
        self.task = self.bar.add_task("replaying", total=None, rate=0.0)
        self.started = time.perf_counter()
        self.done = 0

    def start(self, total: int) -> None:
        self.started = time.perf_counter()
        self.bar.start()
        self.bar.update(self.task, total=total)

    def stream(self, name: str) -> None:
        self.bar.update(self.task, description=name)

    def advance(self, events: int) -> None:
        self.done += events
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        self.bar.update(self.task, advance=events, rate=self.done / elapsed)

    def finish(self) -> None:
        self.bar.update(self.task, description="replayed")
        self.bar.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="yts reporting rebuild",
        description="Replay the event streams into fresh read models while the current ones "
        "keep serving, then switch over. Uses the YTS_REPORTING_* settings of the service.",
    )
    parser.add_argument(
        "--force", action="store_true", help="take over from a rebuild that died midway"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="events per transaction")
    parser.add_argument(
        "--retire-after",
        type=float,
        default=None,
        help="seconds the previous generation stays for requests reading it (default: setting)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    settings = load_settings(ReportingSettings)
    configure_logging("reporting-rebuild", "WARNING", settings.log_format)
    progress: Progress = Silent() if args.quiet else RichProgress()
    try:
        report = asyncio.run(
            rebuild(
                settings,
                force=args.force,
                progress=progress,
                retire_after=args.retire_after,
                batch_size=args.batch_size,
            )
        )
    except RebuildRefused as refused:
        print(f"rebuild refused: {refused}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
