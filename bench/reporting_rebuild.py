"""Reporting's replay rate: ``python -m bench.reporting_rebuild [--sessions N] [--postgres URL]``.

Publishes a generated programme (35 schools, 350 trainers, N peer sessions and their
milestones; the tests' generator) to a private nats-server, then times a rebuild of the read
models from the streams (``yts_reporting.replay``) into a temporary SQLite database, or into
an empty PostgreSQL database given by URL. Prints one line; numbers belong to the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import nats
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision
from yts_reporting.replay import rebuild
from yts_reporting.settings import ReportingSettings

from tests.support.reporting_programme import generate, publish


async def measure(sessions: int, database_url: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="yts-bench-reporting-") as tmp:
        folder = Path(tmp)
        with NatsServer(store_dir=folder / "nats", name="bench-reporting") as server:
            nc = await nats.connect(server.url)
            await provision(nc.jetstream())
            programme = generate(sessions=sessions)
            started = time.perf_counter()
            await publish(nc.jetstream(), programme.events)
            published = time.perf_counter() - started
            await nc.close()
            settings = ReportingSettings(
                nats_url=server.url,
                database_url=database_url or f"sqlite+aiosqlite:///{folder / 'reporting.db'}",
                rebuild_retire_after_seconds=0,
                log_level="WARNING",
            )
            report = await rebuild(settings)
    return (
        f"reporting rebuild: {report.events} events (published in {published:.1f} s) "
        f"replayed in {report.seconds:.2f} s = {report.events_per_second:,.0f} events/s "
        f"({'PostgreSQL' if database_url else 'SQLite'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... of an empty database")
    args = parser.parse_args()
    print(asyncio.run(measure(args.sessions, args.postgres)))


if __name__ == "__main__":
    main()
