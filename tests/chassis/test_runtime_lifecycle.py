"""What the runtime starts and stops, and in which order: a service's background workers run
inside the app's lifespan (started once the database is migrated and the connection to NATS is
under way, stopped while the database is still open), and the subscribers stop together, so a
service stops within its grace period however many subscribers it has."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from faststream.nats import NatsBroker
from yts_chassis import service
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import ServiceSettings

from tests.chassis.rig import fresh_database, messaging


class Recorder:
    """A background worker that notes when it starts and stops, and what it sees then."""

    def __init__(self, runtime: ServiceRuntime, journal: list[str]) -> None:
        self.runtime = runtime
        self.journal = journal

    def start(self) -> None:
        self.journal.append("worker started")

    async def stop(self) -> None:
        database_open = await self.runtime.db.ping()
        self.journal.append(f"worker stopped (database open: {database_open})")


@pytest.fixture
async def runtime(
    database_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[ServiceRuntime, list[str]]:
    database_url = await database_factory("runtime")
    await (await fresh_database(database_url)).dispose()
    journal: list[str] = []

    async def migrated(url: str, migrations: Path) -> None:
        journal.append("database migrated")

    monkeypatch.setattr(service, "upgrade_async", migrated)
    settings = ServiceSettings(
        service_name="tests",
        database_url=database_url,
        nats_url="nats://127.0.0.1:9",  # nothing listens: the runtime keeps trying
    )
    return ServiceRuntime(settings, messaging, Path("unused"), configure_logs=False), journal


async def test_workers_run_inside_the_apps_lifespan(
    runtime: tuple[ServiceRuntime, list[str]],
) -> None:
    service_runtime, journal = runtime
    app = service_runtime.create_app(
        title="tests", description="tests", workers=[Recorder(service_runtime, journal)]
    )
    async with app.router.lifespan_context(app):
        assert journal == ["database migrated", "worker started"]
        assert service_runtime._connector is not None  # NATS is being connected to
    assert journal == [
        "database migrated",
        "worker started",
        "worker stopped (database open: True)",
    ]


class SlowSubscriber:
    """A subscriber whose in-flight handler takes ``seconds`` to finish."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def stop(self) -> None:
        await asyncio.sleep(self.seconds)


async def test_subscribers_stop_together_not_one_after_another(
    runtime: tuple[ServiceRuntime, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    service_runtime, _journal = runtime
    subscribers: list[Any] = [SlowSubscriber(1.0) for _ in range(4)]
    monkeypatch.setattr(NatsBroker, "subscribers", property(lambda _broker: subscribers))
    service_runtime.broker_started = True
    started = time.perf_counter()
    await service_runtime.stop()
    # One after another would take 4 s: four handlers finishing 1 s each.
    assert time.perf_counter() - started < 3.0
