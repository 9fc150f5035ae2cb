"""Crash and restart under load, on ``yts up``'s local system (real processes, one nats-server):
a seeded programme goes through the public APIs while every service is SIGKILLed at random
moments and started again, nats-server is killed and restarted once, and, on PostgreSQL, every
connection to the services' databases is terminated once. Afterwards every command that was
carried out is reflected exactly once everywhere (see tests/support/crash_checks.py), nothing
waits in a consumer or an outbox, and the figures are printed (and kept by
``make reliability``).

``make test`` runs the short version (each service killed once); ``make reliability`` the long
one (YTS_RELIABILITY_SCALE), on SQLite and, with YTS_TEST_POSTGRES_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from yts_deploy.natsserver import free_port
from yts_deploy.runner import SERVICES, LocalSystem

from tests.support import postgres
from tests.support.crash_run import SHORT, Size, run_under_crashes
from tests.support.crash_systems import SingleNode, service_settings
from tests.support.sabotage import factories_from_environment


@pytest.fixture
def crash_system(tmp_path: Path, postgres_admin_url: str | None) -> Iterator[SingleNode]:
    names: dict[str, str] = {}
    if postgres_admin_url is not None:
        run = uuid.uuid4().hex[:8]
        names = {service: f"yts_crash_{run}_{service}" for service in SERVICES}
        for name in names.values():
            asyncio.run(postgres.create_database(postgres_admin_url, name))
    system = LocalSystem(
        state_dir=tmp_path / "state",
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        http_ports={name: free_port() for name in SERVICES},
        say=lambda line: None,
        database_urls={
            service: postgres.async_url(postgres_admin_url, name)
            for service, name in names.items()
            if postgres_admin_url is not None
        },
        extra_env=service_settings(),
        factories=factories_from_environment(),
    )
    try:
        system.start()
        yield SingleNode(system, database_names=names, postgres_admin_url=postgres_admin_url)
    finally:
        system.stop()
        for name in names.values():
            assert postgres_admin_url is not None
            asyncio.run(postgres.drop_database(postgres_admin_url, name))


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(SHORT, id="short", marks=pytest.mark.timeout(600)),
        pytest.param(Size.long(), id="long", marks=[pytest.mark.slow, pytest.mark.timeout(3600)]),
    ],
)
def test_crashes_under_load_lose_and_duplicate_nothing(
    crash_system: SingleNode, size: Size, request: pytest.FixtureRequest
) -> None:
    database = "PostgreSQL" if crash_system.database_names else "SQLite"
    crashed = run_under_crashes(
        crash_system,
        size,
        run=f"single node, {request.node.callspec.id} / {database}",
        database=database,
    )
    print("\n" + crashed.report() + "\n" + "\n".join(crashed.chaos_log))
    figures = crashed.figures
    logs = "\n".join(f"--- {s} ---\n{crash_system.log_tail(s, size=1500)}" for s in SERVICES)
    assert figures["2xx"] > size.commands // 2, crashed.report()
    assert figures["kills"] == figures["restarts"] == size.kills_per_service * len(SERVICES)
    assert figures["nats restarts"] == 1
    assert figures["postgres cuts"] == (1 if crash_system.database_names else 0)
    failed = [str(f) for f in crashed.findings if not f.ok]
    assert not failed, crashed.report() + "\n" + "\n".join(crashed.chaos_log) + "\n" + logs
    assert crashed.still_moving is None, crashed.report()
