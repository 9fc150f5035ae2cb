"""One crash run, shared by the single-node and the scaled-out tests: a webhook subscription to a
receiver on loopback, the seeded load with the chaos thread beside it, the wait for the system
to settle, the checks, and the figures (printed, and kept when ``YTS_RELIABILITY_RESULTS`` is
set)."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Any

from yts_deploy.runner import SERVICES

from tests.support.crash_checks import Finding, Inspector, WebhookReceiver, expected_from
from tests.support.crash_load import ProgrammeClient, ProgrammeLoad
from tests.support.crash_systems import THRESHOLDS, Chaos, CrashSystem, plan_faults
from tests.support.reliability_figures import describe, keep

SCALE = float(os.environ.get("YTS_RELIABILITY_SCALE", "1"))
SEED = int(os.environ.get("YTS_RELIABILITY_SEED", "11"))


@dataclass(frozen=True)
class Size:
    commands: int  # at least; the load goes on until the last fault has been applied
    schools: int
    trainers_per_school: int
    kills_per_service: int  # SIGKILLs (each followed by a restart) of every service

    @classmethod
    def long(cls, scale: float = SCALE) -> Size:
        """``make reliability``: YTS_RELIABILITY_SCALE=1 is 700 commands and 16 kills; the
        commands and schools grow with the scale, the kills with its whole part."""
        return cls(
            commands=round(700 * scale),
            schools=6 + round(2 * scale),
            trainers_per_school=10,
            kills_per_service=3 + max(1, round(scale)),
        )


SHORT = Size(commands=150, schools=3, trainers_per_school=6, kills_per_service=1)


@dataclass
class CrashRun:
    figures: dict[str, Any]
    findings: list[Finding]
    still_moving: str | None
    chaos_log: list[str]

    def report(self) -> str:
        failed = [str(f) for f in self.findings if not f.ok]
        answers = {k: self.figures[k] for k in ("4xx problems", "5xx by command")}
        lines = [describe(self.figures), f"answers: {answers}", *failed]
        if self.still_moving:
            lines.append(f"not settled: {self.still_moving}")
        return "\n".join(lines)


def run_under_crashes(
    system: CrashSystem,
    size: Size,
    *,
    run: str,
    database: str,
    replicas: int = 1,
    seed: int = SEED,
) -> CrashRun:
    started = time.monotonic()
    client = ProgrammeClient(system.urls, system.token, seed)
    with WebhookReceiver() as receiver:
        subscribed = client.http.post(
            system.urls["notifications"][0] + "/v1/webhook-subscriptions",
            json={
                "partner": "Crash-test partner",
                "url": receiver.url,
                "event_types": ["yts.milestones.>"],
            },
        )
        assert subscribed.status_code == 201, subscribed.text
        load = ProgrammeLoad(
            client, seed, schools=size.schools, trainers_per_school=size.trainers_per_school
        )
        faults = plan_faults(
            random.Random(seed + 1),
            size.commands,
            kills_per_service=size.kills_per_service,
            replicas=replicas,
            postgres=bool(system.database_names),
        )
        chaos = Chaos(
            system,
            faults,
            progress=lambda: load.progress,
            in_flight=lambda: client.in_flight,
            rng=random.Random(seed + 2),
        )
        chaos.start()
        deadline = time.monotonic() + 120 + size.commands  # bounded: about 1 s a command
        try:
            while (load.progress < size.commands or chaos.is_alive()) and (
                time.monotonic() < deadline and chaos.error is None
            ):
                load.step()
        finally:
            chaos.done.set()
            chaos.join(timeout=120)
        assert chaos.error is None, f"the chaos failed: {chaos.error!r}\n" + "\n".join(chaos.log)
        assert not chaos.is_alive(), "the chaos thread did not end"
        load_seconds = time.monotonic() - started

        tally = load.tally
        inspector = Inspector(
            client, system.urls, system.nats_urls, tally, expected_from(tally, THRESHOLDS)
        )
        settle_seconds, moving = inspector.wait_until_settled()
        findings = inspector.check(system.mail_dir, receiver)
    client.close()
    totals = {
        key: sum(getattr(f, key) for f in findings)
        for key in ("lost", "duplicated", "unexpected", "wrong")
    }
    figures: dict[str, Any] = {
        "database": database,
        "seed": seed,
        "scale": SCALE,
        "replicas": replicas,
        "commands": tally.commands,
        "2xx": tally.done,
        "4xx": sum(tally.refused.values()),
        "4xx by command": dict(tally.refused),
        "4xx problems": dict(tally.refusals),
        "5xx answers (retried)": sum(tally.server_errors.values()),
        "5xx by command": dict(tally.server_errors),
        "unanswered": tally.unanswered,
        "hung up": tally.dropped,
        "replayed": tally.replayed,
        "ran on retry": tally.ran_on_retry,
        "read back": tally.read_back,
        "not carried out": tally.not_carried_out,
        "kills": chaos.figures["kills"],
        "restarts": chaos.figures["restarts"],
        "nats restarts": chaos.figures["nats restarts"],
        "nats node kills": chaos.figures["nats node kills"],
        "postgres cuts": chaos.figures["postgres cuts"],
        "postgres connections terminated": chaos.figures["postgres connections terminated"],
        "events": len(tally.schools)
        + len(tally.trainers)
        + sum(len(t.modules) for t in tally.trainers.values())
        + sum(1 for s in tally.sessions.values() if s.status != "planned")
        + sum(1 for t in tally.trainers.values() if t.withdrawn)
        + len(inspector.expected.milestones),
        "milestones": len(inspector.expected.milestones),
        **totals,
        **inspector.resends,
        "load seconds": round(load_seconds, 1),
        "settle seconds": round(settle_seconds, 1),
        "seconds": round(time.monotonic() - started, 1),
        "services": list(SERVICES),
    }
    keep(run, figures)
    return CrashRun(figures, findings, moving, chaos.log)
