"""Scaled out as operators do it (docs/operations.md, "Scale out"): two replicas of every service
on one PostgreSQL database each, on a three-node NATS cluster with R3 streams. Both replicas
of a service start at the same moment against a fresh database and both come up (their
migrations do not race); under the seeded load, replicas are SIGKILLed and restarted, one NATS
node is killed for good and PostgreSQL's connections are cut once, and the same checks as on
one node hold (tests/support/crash_checks.py).

PostgreSQL only (YTS_TEST_POSTGRES_URL): replicas share a database, which SQLite files are not
made for. The crash run is long (``make reliability``); the start-up race is in ``make test``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from yts_deploy.natsserver import free_port
from yts_deploy.runner import SERVICES, ServiceProcess, service_env

from tests.support import postgres
from tests.support.crash_run import Size, run_under_crashes
from tests.support.crash_systems import Replicated, service_settings
from tests.support.sabotage import factories_from_environment
from tests.support.services import eventually_sync

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_databases(postgres_admin_url: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh PostgreSQL database per service (dropped at the end): (admin URL, names)."""
    if postgres_admin_url is None:
        pytest.skip("replicas share a PostgreSQL database: set YTS_TEST_POSTGRES_URL")
    run = uuid.uuid4().hex[:8]
    names = {service: f"yts_scaled_{run}_{service}" for service in SERVICES}
    for name in names.values():
        asyncio.run(postgres.create_database(postgres_admin_url, name))
    try:
        yield postgres_admin_url, names
    finally:
        for name in names.values():
            asyncio.run(postgres.drop_database(postgres_admin_url, name))


def migrations_head(service: str) -> str:
    scripts = REPO / "services" / service / "src" / f"yts_{service}" / "migrations"
    head = ScriptDirectory(str(scripts)).get_current_head()
    assert head is not None
    return head


async def recorded_versions(url: str) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


def test_two_replicas_started_at_once_on_a_fresh_database_both_come_up(
    fresh_databases: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    admin_url, names = fresh_databases
    urls = {service: postgres.async_url(admin_url, name) for service, name in names.items()}
    # No NATS listens there: a service migrates and serves HTTP (/healthz) without it.
    nowhere = f"nats://127.0.0.1:{free_port()}"
    replicas = [
        ServiceProcess(
            name=service,
            port=free_port(),
            env=service_env(
                service,
                nats_url=nowhere,
                database_url=urls[service],
                admin_token="yts_scaled-out-test",
            ),
            log_path=tmp_path / "logs" / f"{service}-{replica}.log",
        )
        for service in SERVICES
        for replica in (1, 2)
    ]
    try:
        for process in replicas:
            process.start()

        def alive_and_serving() -> bool:
            for process in replicas:
                assert process.alive, process.log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{process.url}/healthz", timeout=2).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
            return True

        eventually_sync(alive_and_serving, timeout=90, interval=0.3)
    finally:
        for process in replicas:
            process.stop()
    for service in SERVICES:
        assert asyncio.run(recorded_versions(urls[service])) == [migrations_head(service)]


@pytest.fixture
def scaled_out(fresh_databases: tuple[str, dict[str, str]], tmp_path: Path) -> Iterator[Replicated]:
    admin_url, names = fresh_databases
    system = Replicated(
        state_dir=tmp_path / "state",
        database_urls={s: postgres.async_url(admin_url, n) for s, n in names.items()},
        database_names=names,
        postgres_admin_url=admin_url,
        extra_env=service_settings(),
        factories=factories_from_environment(),
    )
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_two_replicas_on_a_three_node_cluster_lose_and_duplicate_nothing(
    scaled_out: Replicated,
) -> None:
    size = Size.long()
    crashed = run_under_crashes(
        scaled_out,
        size,
        run="two replicas, 3-node NATS, long / PostgreSQL",
        database="PostgreSQL",
        replicas=2,
    )
    print("\n" + crashed.report() + "\n" + "\n".join(crashed.chaos_log))
    figures = crashed.figures
    assert figures["2xx"] > size.commands // 2, crashed.report()
    assert figures["kills"] == figures["restarts"] == size.kills_per_service * len(SERVICES)
    assert figures["nats node kills"] == 1
    assert figures["postgres cuts"] == 1
    failed = [str(f) for f in crashed.findings if not f.ok]
    logs = "\n".join(
        f"--- {s} #{r} ---\n{scaled_out.log_tail(s, r, size=1500)}"
        for s in SERVICES
        for r in (0, 1)
    )
    assert not failed, crashed.report() + "\n" + "\n".join(crashed.chaos_log) + "\n" + logs
    assert crashed.still_moving is None, crashed.report()
