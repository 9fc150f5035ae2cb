"""The demo on a terminal: ``yts up --demo`` and ``yts demo`` run the loader with a progress
bar per phase, then say what was loaded and where to look."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx

from yts_deploy.demo.loader import Loaded, Steps, fill
from yts_deploy.demo.plan import SCALES, Plan


class RichSteps(Steps):
    """One progress bar per phase, on the terminal."""

    LABELS = {
        "schools": "registering schools",
        "trainers": "enrolling trainers",
        "modules": "certifying trainers (module completions)",
        "sessions": "recording peer sessions",
        "withdrawals": "withdrawing trainers",
        "reporting": "waiting for reporting to count it all",
    }

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RichSteps:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def begin(self, phase: str, total: int) -> None:
        self.tasks[phase] = self.progress.add_task(self.LABELS.get(phase, phase), total=total)

    def advance(self, phase: str) -> None:
        self.progress.advance(self.tasks[phase])


def run_demo(
    urls: dict[str, str],
    token: str,
    *,
    scale: str = "full",
    today: date | None = None,
    say: Callable[[str], None] = print,
) -> Loaded:
    """Fill the system behind ``urls`` (service name -> base URL) and say where to look."""

    async def go() -> tuple[Plan, Loaded]:
        headers = {"Authorization": f"Bearer {token}"}
        clients = {
            name: httpx.AsyncClient(base_url=url, headers=headers, timeout=30)
            for name, url in urls.items()
        }
        try:
            with RichSteps() as steps:
                return await fill(clients, today=today, scale=SCALES[scale], steps=steps)
        finally:
            for client in clients.values():
                await client.aclose()

    plan, loaded = asyncio.run(go())
    first, second = plan.cohorts
    say(
        f"\ndemo programme loaded: {loaded.schools} schools in {loaded.districts} districts, "
        f"cohorts {first.name} ({first.starts_on} to {first.ends_on}) and {second.name}, "
        f"{loaded.trainers} trainers ({loaded.withdrawals} withdrawn), "
        f"{loaded.modules} module completions, {loaded.sessions_delivered} peer sessions "
        f"delivered and {loaded.sessions_cancelled} cancelled"
    )
    if not loaded.reporting_caught_up:
        say("reporting is still counting; the dashboard fills in within a minute")
    reporting = urls["reporting"]
    say("\nwhere to look:")
    say(f"  dashboard      {reporting}/   (sign in with the admin token)")
    say(f"  indicators     curl -H 'Authorization: Bearer {token}' {reporting}/v1/indicators")
    say(f"  by month       {reporting}/v1/indicators/monthly")
    say(f"  sessions CSV   {reporting}/v1/exports/sessions.csv")
    say(f"  a school       {reporting}/v1/schools/{loaded.school_ids[0]}/summary")
    say(f"  peer sessions  {urls['sessions']}/v1/sessions   (API docs: {urls['sessions']}/docs)")
    say(f"  trainers       {urls['enrolment']}/v1/trainers  (personal data stays here)")
    say(
        "  as a partner   yts partners add unesco --types 'yts.sessions.>' "
        "--types 'yts.milestones.>'   (then run the printed command)"
    )
    return loaded
