"""Figures of a running system: ``yts up``'s local system (nats-server and the four services as
real processes on free loopback ports, SQLite files or fresh PostgreSQL databases), filled
through the public APIs with schools, trainers certified module by module, and planned peer
sessions; then

- the sessions service's command ceiling: ``POST /v1/sessions/{id}/completion`` sent by a
  fixed number of concurrent clients, completions answered 2xx per second, with the share of a
  core the sessions process used meanwhile;
- end to end: completions sent at a fixed rate (open loop: a slow answer does not delay the
  next command), and for each the time from its 2xx to the moment its session is in
  reporting's read model (reporting's database polled every ``POLL_SECONDS`` from outside the
  service), p50 and p99, bounded in count and time;
- the peak resident memory of each service process (``VmHWM``) at the end.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select
from yts_chassis.database import Database
from yts_deploy.natsserver import free_port
from yts_deploy.runner import SERVICES, LocalSystem, ServiceProcess, wait_ready
from yts_reporting.store import ProjectedSession

from bench.figures import Figure
from tests.support.crash_load import CORE_MODULES
from tests.support.enrolment_api import COHORT, CONSENT_DAY
from tests.support.postgres import async_url, create_database, drop_database

POLL_SECONDS = 0.01  # how often reporting's read model is looked at for the commands waiting
CEILING_CLIENTS = 32  # concurrent clients sending completions for the ceiling
VISIBLE_WITHIN = 120.0  # a command not in reporting by then counts as lost (and fails the run)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

Say = Callable[[str], None]
SCALED = ("sessions", "reporting")  # the services ``--replicas`` runs more of


@dataclass
class SystemSize:
    schools: int = 5
    trainers_per_school: int = 4
    ceiling_commands: int = 400
    rates: tuple[int, ...] = (20, 50, 100)
    latency_seconds: float = 6.0
    repeats: int = 3

    def sessions_needed(self) -> int:
        latency = sum(math.ceil(rate * self.latency_seconds) for rate in self.rates)
        return (self.ceiling_commands + latency) * self.repeats


@dataclass
class Filled:
    """What the set-up made: each school's certified trainers and the planned sessions."""

    planned: list[str] = field(default_factory=list)

    def take(self, count: int) -> list[str]:
        taken, self.planned = self.planned[:count], self.planned[count:]
        if len(taken) < count:
            raise RuntimeError(f"only {len(taken)} planned sessions left, {count} wanted")
        return taken


def almaty_today() -> str:
    return datetime.now(ZoneInfo("Asia/Almaty")).date().isoformat()


def completion(n: int) -> dict[str, Any]:
    total = 12 + n % 40
    responses = total // 2
    return {
        "delivered_on": almaty_today(),
        "duration_minutes": 45,
        "participants": {
            "total": total,
            "female": total // 2,
            "male": total - total // 2,
            "by_grade": {"9": total // 3, "10": total - total // 3},
        },
        "feedback": {"responses": responses, "average_rating": 4.2},
    }


async def _created(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    if response.status_code != 201:
        raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:300]}")
    return dict(response.json())


async def _gather_bounded(jobs: list[Any], at_once: int) -> list[Any]:
    gate = asyncio.Semaphore(at_once)

    async def run(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(run(job) for job in jobs))


async def fill(
    client: httpx.AsyncClient, urls: dict[str, str], size: SystemSize, say: Say
) -> Filled:
    enrolment, sessions = urls["enrolment"], urls["sessions"]
    cohort = await _created(client, f"{enrolment}/v1/cohorts", dict(COHORT))
    schools = [
        await _created(
            client,
            f"{enrolment}/v1/schools",
            {
                "name": f"School-Lyceum No. {100 + n} (bench {uuid.uuid4().hex[:6]})",
                "district": "Almaly",
                "languages": ["kk", "ru"],
                "coordinator": {
                    "name": f"Coordinator {n}",
                    "email": f"deputy{n}@example.org",
                    "locale": "ru",
                },
            },
        )
        for n in range(size.schools)
    ]
    trainers: dict[str, list[str]] = {}
    for school in schools:
        for n in range(size.trainers_per_school):
            made = await _created(
                client,
                f"{enrolment}/v1/trainers",
                {
                    "school_id": school["id"],
                    "cohort_id": cohort["id"],
                    "first_name": f"Bench{n}",
                    "last_name": "Trainer",
                    "grade": 10,
                    "gender": "female",
                    "languages": ["kk", "ru"],
                    "guardian_consent": {"guardian_name": "A Guardian", "given_on": CONSENT_DAY},
                },
            )
            trainers.setdefault(school["id"], []).append(made["id"])
    say(f"  set-up: {len(schools)} schools, {sum(map(len, trainers.values()))} trainers enrolled")

    async def certify(trainer_id: str) -> None:
        for module_id in CORE_MODULES:
            url = f"{sessions}/v1/trainers/{trainer_id}/module-completions"
            deadline = time.monotonic() + 60
            while True:
                response = await client.post(url, json={"module_id": module_id})
                if response.status_code == 201:
                    break
                # The roster learns of the trainer through NATS a moment after the 201.
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
                await asyncio.sleep(0.1)

    await _gather_bounded([certify(t) for ts in trainers.values() for t in ts], 8)
    wanted = size.sessions_needed()
    school_ids = sorted(trainers)

    async def plan(n: int) -> str:
        school_id = school_ids[n % len(school_ids)]
        mine = trainers[school_id]
        made = await _created(
            client,
            f"{sessions}/v1/sessions",
            {
                "school_id": school_id,
                "topic_module_id": CORE_MODULES[n % len(CORE_MODULES)],
                "facilitator_ids": [mine[n % len(mine)], mine[(n + 1) % len(mine)]],
                "language": "kk" if n % 2 else "ru",
                "planned_on": almaty_today(),
            },
        )
        return str(made["id"])

    started = time.perf_counter()
    planned = await _gather_bounded([plan(n) for n in range(wanted)], 16)
    say(f"  set-up: {wanted} sessions planned in {time.perf_counter() - started:.1f} s")
    return Filled(planned=list(planned))


class ReadModel:
    """Reporting's read model, looked at from outside the service."""

    def __init__(self, database_url: str) -> None:
        self.db = Database(database_url)

    async def delivered(self, session_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for first in range(0, len(session_ids), 500):
            chunk = [uuid.UUID(s) for s in session_ids[first : first + 500]]
            async with self.db.session() as session:
                rows = await session.execute(
                    select(col(ProjectedSession.session_id)).where(
                        col(ProjectedSession.session_id).in_(chunk),
                        col(ProjectedSession.delivered_on).is_not(None),
                    )
                )
                found.update(str(s) for s in rows.scalars())
        return found

    async def wait_all(self, session_ids: list[str], limit: float = VISIBLE_WITHIN) -> None:
        deadline = time.monotonic() + limit
        waiting = list(session_ids)
        while waiting:
            waiting = [s for s in waiting if s not in await self.delivered(waiting)]
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"{len(waiting)} completions not in reporting after {limit} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.db.dispose()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


async def _complete(client: httpx.AsyncClient, urls: list[str], session_id: str, n: int) -> float:
    """Complete a planned session through one of the sessions replicas (in turn)."""
    url = urls[n % len(urls)]
    for attempt in range(3):
        try:
            response = await client.post(
                f"{url}/v1/sessions/{session_id}/completion", json=completion(n)
            )
        except httpx.TransportError:
            # A kept-alive connection the server closed as it was reused: send it again.
            continue
        if response.status_code == 200 or (attempt and response.status_code == 409):
            return time.perf_counter()  # a 409 on a repeat: the first attempt completed it
        raise RuntimeError(f"completion: {response.status_code} {response.text[:300]}")
    raise RuntimeError(f"completion of {session_id}: no answer in three attempts")


async def ceiling_once(
    client: httpx.AsyncClient, urls: list[str], pids: list[int], session_ids: list[str]
) -> tuple[float, float]:
    """(completions answered per second, share of a core the service's replicas used)."""
    queue = list(enumerate(session_ids))

    async def worker() -> None:
        while queue:
            n, session_id = queue.pop()
            await _complete(client, urls, session_id, n)

    cpu = sum(cpu_seconds(pid) for pid in pids)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CEILING_CLIENTS)))
    seconds = time.perf_counter() - started
    return len(session_ids) / seconds, (sum(cpu_seconds(pid) for pid in pids) - cpu) / seconds


async def latency_once(
    client: httpx.AsyncClient,
    urls: list[str],
    read_model: ReadModel,
    rate: int,
    session_ids: list[str],
) -> dict[str, Any]:
    """Completions at ``rate`` per second; each one's time from its 2xx to reporting."""
    answered: dict[str, float] = {}
    visible: dict[str, float] = {}
    sent_at: dict[str, float] = {}
    done_sending = asyncio.Event()

    async def send(n: int, session_id: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent_at[session_id] = time.perf_counter()
        answered[session_id] = await _complete(client, urls, session_id, n)

    async def watch() -> None:
        while not (done_sending.is_set() and len(visible) == len(session_ids)):
            waiting = [s for s in answered if s not in visible]
            if waiting:
                now = time.perf_counter()
                for s in await read_model.delivered(waiting):
                    visible[s] = now
            if time.perf_counter() - start > VISIBLE_WITHIN:
                raise RuntimeError(f"{len(session_ids) - len(visible)} not in reporting")
            await asyncio.sleep(POLL_SECONDS)

    start = time.perf_counter()
    watcher = asyncio.create_task(watch())
    await asyncio.gather(
        *(send(n, s, start + n / rate) for n, s in enumerate(session_ids)),
    )
    sending = time.perf_counter() - start
    done_sending.set()
    await watcher
    after_2xx = sorted(max(0.0, visible[s] - answered[s]) * 1000 for s in session_ids)
    answer = sorted((answered[s] - sent_at[s]) * 1000 for s in session_ids)
    return {
        "commands": len(session_ids),
        "sent_per_s": len(session_ids) / sending,
        "p50_ms": _percentile(after_2xx, 50),
        "p99_ms": _percentile(after_2xx, 99),
        "answer_p50_ms": _percentile(answer, 50),
        "answer_p99_ms": _percentile(answer, 99),
    }


def _percentile(ordered: list[float], p: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(p) - 1]


async def system_figures(
    folder: Path,
    postgres_admin_url: str | None,
    size: SystemSize,
    say: Say,
    replicas: int = 1,
) -> list[Figure]:
    """The running system's rows; ``replicas`` > 1 (PostgreSQL) runs that many processes of
    sessions and of reporting, sharing their database and durable consumers."""
    kind = "postgresql" if postgres_admin_url else "sqlite"
    label = kind if replicas == 1 else f"{kind}, {replicas} replicas"
    database_urls: dict[str, str] = {}
    if postgres_admin_url:
        for name in SERVICES:
            database = f"bench_{name}_{uuid.uuid4().hex[:6]}"
            await create_database(postgres_admin_url, database)
            database_urls[name] = async_url(postgres_admin_url, database)
    system = LocalSystem(
        state_dir=folder / f"system-{label}",
        nats_port=free_port(),
        http_ports={name: free_port() for name in SERVICES},
        workspace_port=free_port(),
        say=lambda line: None,
        database_urls=database_urls,
    )
    processes: dict[str, list[ServiceProcess]] = {}
    try:
        await asyncio.to_thread(system.start)
        processes = {name: [process] for name, process in system.services.items()}
        for name in SCALED if replicas > 1 else ():
            first = system.services[name]
            for n in range(2, replicas + 1):
                extra = ServiceProcess(
                    name=name,
                    port=free_port(),
                    env=dict(first.env),
                    log_path=first.log_path.with_name(f"{name}-{n}.log"),
                    factory=first.factory,
                )
                extra.start()
                processes[name].append(extra)
        for name in SCALED:
            for process in processes[name][1:]:
                await asyncio.to_thread(wait_ready, process.url, 120, _alive(process))
        return await _measure(system, processes, label, size, say)
    finally:
        for name in SCALED:
            for process in processes.get(name, [])[1:]:
                await asyncio.to_thread(process.stop)
        await asyncio.to_thread(system.stop)
        if postgres_admin_url:
            for url in database_urls.values():
                await drop_database(postgres_admin_url, url.rsplit("/", 1)[1])


def _alive(process: ServiceProcess) -> Callable[[], bool]:
    return lambda: process.alive


async def _measure(
    system: LocalSystem,
    processes: dict[str, list[ServiceProcess]],
    kind: str,
    size: SystemSize,
    say: Say,
) -> list[Figure]:
    first = {name: replicas[0].url for name, replicas in processes.items()}
    sessions = [p.url for p in processes["sessions"]]
    pids = {
        (name, n): p.process.pid
        for name, replicas in processes.items()
        for n, p in enumerate(replicas, start=1)
        if p.process is not None
    }
    sessions_pids = [pid for (name, _), pid in pids.items() if name == "sessions"]
    reporting_url = system.database_urls.get(
        "reporting", f"sqlite+aiosqlite:///{system.state_dir / 'reporting.db'}"
    )
    read_model = ReadModel(reporting_url)
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {system.token}"},
        timeout=httpx.Timeout(60.0, connect=5.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
    ) as client:
        try:
            filled = await fill(client, first, size, say)
            ceiling = Figure(
                "sessions commands ceiling (POST completion)",
                kind,
                "cmd/s",
                target="100/s sustained",
                detail={"clients": CEILING_CLIENTS, "sessions_core_share": []},
            )
            for n in range(size.repeats):
                ids = filled.take(size.ceiling_commands)
                per_second, core = await ceiling_once(client, sessions, sessions_pids, ids)
                ceiling.values.append(per_second)
                ceiling.detail["sessions_core_share"].append(round(core, 2))
                say(
                    f"  ceiling [{kind}] repeat {n + 1}/{size.repeats}: {per_second:,.1f} cmd/s, "
                    f"sessions at {core:.0%} of a core"
                )
                await read_model.wait_all(ids)  # the next run starts with nothing queued
            figures = [ceiling]
            for rate in size.rates:
                p50 = Figure(f"command 2xx → in reporting at {rate}/s, p50", kind, "ms")
                p99 = Figure(
                    f"command 2xx → in reporting at {rate}/s, p99",
                    kind,
                    "ms",
                    target="< 250 ms at 100/s",
                )
                for n in range(size.repeats):
                    ids = filled.take(math.ceil(rate * size.latency_seconds))
                    run = await latency_once(client, sessions, read_model, rate, ids)
                    p50.values.append(run["p50_ms"])
                    p99.values.append(run["p99_ms"])
                    p99.detail.setdefault("runs", []).append(
                        {k: round(v, 1) for k, v in run.items()}
                    )
                    say(
                        f"  latency [{kind}] {rate}/s repeat {n + 1}/{size.repeats}: "
                        f"p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:.0f} ms "
                        f"(sent {run['sent_per_s']:.1f}/s)"
                    )
                figures += [p50, p99]
            for (name, n), pid in pids.items():
                replica = f" #{n}" if len(processes[name]) > 1 else ""
                figures.append(
                    Figure(
                        f"peak RSS, {name}{replica}",
                        kind,
                        "MB",
                        values=[peak_rss_mb(pid)],
                        target="< 200 MB",
                    )
                )
            return figures
        finally:
            await read_model.close()
