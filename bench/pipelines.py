"""The delivery pipelines, each timed against a raw nats-py baseline run right before it on the
same nats-server and the same data:

- reporting's catch-up: the reporting app (its real subscribers, inbox and projections) starts
  on a fresh database behind the tests' generated programme, timed until its three durable
  consumers have nothing pending or unacknowledged; baseline: three raw durable pull consumers
  on the same filters that fetch, decode the JSON and ack;
- the outbox relay: the same events staged in an outbox table, published by the chassis'
  relay until none is left; baseline: the same bodies published with a window of PubAcks in
  flight;
- ``yts reporting rebuild`` (``yts_reporting.replay.rebuild``) into a fresh database;
  baseline: the same streams read through unacknowledged consumers, decoding the JSON.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData, func, select
from yts_chassis.database import Database
from yts_chassis.migrations import upgrade_async
from yts_chassis.outbox import Outbox, OutboxRelay
from yts_chassis.settings import ServiceSettings
from yts_chassis.tables import define_messaging_tables
from yts_chassis.topology import DurableConsumer
from yts_contracts.envelope import to_nats
from yts_contracts.event import EventData
from yts_deploy.provision import provision
from yts_reporting.main import create_app
from yts_reporting.replay import rebuild
from yts_reporting.settings import ReportingSettings
from yts_reporting.store import MIGRATIONS
from yts_reporting.subscriptions import CONSUMERS

from bench.figures import Figure
from tests.support.postgres import async_url, create_database, drop_database

# The relay publishes to a stream of its own, so the programme's streams stay as published.
RELAY_STREAM = "BENCH_RELAY"
RELAY_SUBJECT = "bench.relay"
RAW_FETCH = 500  # the raw consumers' pull batch, as reporting's
RELAY_WINDOW = 256  # PubAcks in flight for the raw publisher


@dataclass
class Databases:
    """Fresh databases for each repeat: SQLite files in a folder, or PostgreSQL databases
    created through an admin URL and dropped at the end."""

    folder: Path
    postgres_admin_url: str | None = None
    made: int = 0

    @property
    def kind(self) -> str:
        return "postgresql" if self.postgres_admin_url else "sqlite"

    @asynccontextmanager
    async def fresh(self, purpose: str) -> AsyncIterator[str]:
        self.made += 1
        name = f"bench_{purpose}_{self.made}_{uuid.uuid4().hex[:6]}"
        if self.postgres_admin_url is None:
            yield f"sqlite+aiosqlite:///{self.folder / name}.db"
            return
        await create_database(self.postgres_admin_url, name)
        try:
            yield async_url(self.postgres_admin_url, name)
        finally:
            await drop_database(self.postgres_admin_url, name)


# -- reporting's catch-up ---------------------------------------------------------------------


async def _fresh_reporting_consumers(js: JetStreamContext) -> int:
    """Reporting's durable consumers made anew (from the first message); returns how many
    messages they have to deliver."""
    for durable in CONSUMERS:
        with suppress(NotFoundError):
            await js.delete_consumer(durable.stream, durable.durable)
    await provision(js)
    pending = 0
    for durable in CONSUMERS:
        pending += (await js.consumer_info(durable.stream, durable.durable)).num_pending
    return pending


async def _drained(js: JetStreamContext, names: list[tuple[str, str]]) -> bool:
    for stream, durable in names:
        info = await js.consumer_info(stream, durable)
        if info.num_pending or info.num_ack_pending:
            return False
    return True


async def _wait_drained(js: JetStreamContext, names: list[tuple[str, str]], limit: float) -> None:
    deadline = time.monotonic() + limit
    while not await _drained(js, names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumers {names} not drained in {limit:.0f} s")
        await asyncio.sleep(0.02)


async def catch_up_once(nats_url: str, database_url: str, log_level: str) -> tuple[int, float]:
    """The reporting app behind the whole programme: (events, seconds until all acked)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        events = await _fresh_reporting_consumers(js)
        await upgrade_async(database_url, MIGRATIONS)  # start-up's migration is not timed
        settings = ReportingSettings(
            nats_url=nats_url,
            database_url=database_url,
            admin_token="bench-admin-token",
            log_level=log_level,
            log_format="json",
        )
        app = create_app(settings)
        names = [(d.stream, d.durable) for d in CONSUMERS]
        async with app.router.lifespan_context(app):
            started = time.perf_counter()
            await _wait_drained(js, names, limit=600)
            seconds = time.perf_counter() - started
        return events, seconds
    finally:
        await nc.close()


async def _raw_consumer(
    js: JetStreamContext, durable: DurableConsumer, name: str, *, acked: bool
) -> tuple[Any, int]:
    """A consumer of the bench's own on ``durable``'s stream and filter, from the first
    message: its pull subscription, and how many messages it has to deliver."""
    await js.add_consumer(
        durable.stream,
        ConsumerConfig(
            name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT if acked else AckPolicy.NONE,
            filter_subject=durable.filter_subject,
            max_ack_pending=20_000 if acked else None,
            inactive_threshold=60.0,
        ),
    )
    pending = (await js.consumer_info(durable.stream, name)).num_pending
    return await js.pull_subscribe_bind(name, stream=durable.stream), pending


async def _read(subscription: Any, count: int, batch: int, *, ack: bool) -> None:
    """Fetch ``count`` messages, decoding each body (and acking it when ``ack``)."""
    seen = 0
    while seen < count:
        try:
            messages = await subscription.fetch(batch, timeout=1.0)
        except TimeoutError:
            continue
        for msg in messages:
            json.loads(msg.data)
            if ack:
                await msg.ack()
        seen += len(messages)


async def raw_catch_up_once(nats_url: str) -> tuple[int, float]:
    """Three raw durable pull consumers on reporting's filters: fetch, json.loads, ack."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"bench-raw-{uuid.uuid4().hex[:6]}"
    try:
        work = [await _raw_consumer(js, durable, name, acked=True) for durable in CONSUMERS]
        started = time.perf_counter()
        await asyncio.gather(*(_read(sub, count, RAW_FETCH, ack=True) for sub, count in work))
        await nc.flush()
        seconds = time.perf_counter() - started
        for durable in CONSUMERS:
            await js.delete_consumer(durable.stream, name)
        return sum(count for _, count in work), seconds
    finally:
        await nc.close()


# -- the outbox relay -------------------------------------------------------------------------


async def ensure_relay_stream(js: JetStreamContext) -> None:
    await js.add_stream(
        StreamConfig(
            name=RELAY_STREAM,
            subjects=[f"{RELAY_SUBJECT}.>"],
            storage=StorageType.FILE,
            duplicate_window=600,
        )
    )


def relay_rows(events: list[EventData]) -> list[dict[str, Any]]:
    """Outbox rows of ``events`` under new event ids (the server's duplicate window would
    otherwise drop a repeat's publishes), on the bench's own subjects."""
    now = datetime.now(UTC)
    rows = []
    for data in events:
        envelope = to_nats(data, source="/bench", event_id=str(uuid.uuid4()))
        rows.append(
            {
                "event_id": envelope.event_id,
                "event_type": data.event_type,
                "subject": f"{RELAY_SUBJECT}.{envelope.subject}",
                "headers": json.dumps(envelope.headers, sort_keys=True),
                "body": envelope.body,
                "created_at": now,
                "attempts": 0,
            }
        )
    return rows


async def relay_once(
    nats_url: str, database_url: str, events: list[EventData], batch_size: int | None = None
) -> float:
    """Stage the events in an outbox (not timed), then time the relay publishing them all."""
    metadata = MetaData()
    tables = define_messaging_tables(metadata)
    db = Database(database_url)
    nc = await nats.connect(nats_url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        rows = relay_rows(events)
        async with db.transaction() as session:
            for first in range(0, len(rows), 1000):
                await session.execute(tables.outbox.insert(), rows[first : first + 1000])
        outbox = Outbox(tables, "/bench")
        defaults = ServiceSettings(service_name="bench")
        relay = OutboxRelay(
            db,
            outbox,
            nc.jetstream,
            service="bench",
            batch_size=batch_size or defaults.outbox_batch_size,
            publish_timeout=defaults.publish_timeout_seconds,
        )
        started = time.perf_counter()
        while await relay.publish_pending():
            pass
        seconds = time.perf_counter() - started
        async with db.session() as session:
            left = (
                await session.execute(
                    select(func.count())
                    .select_from(tables.outbox)
                    .where(tables.outbox.c.published_at.is_(None))
                )
            ).scalar_one()
        if left:
            raise RuntimeError(f"the relay left {left} rows unpublished")
        return seconds
    finally:
        await nc.close()
        await db.dispose()


async def raw_publish_once(nats_url: str, events: list[EventData]) -> float:
    """The same bodies and headers published with ``RELAY_WINDOW`` PubAcks in flight."""
    rows = relay_rows(events)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    window = asyncio.Semaphore(RELAY_WINDOW)

    async def publish(row: dict[str, Any]) -> None:
        async with window:
            await js.publish(row["subject"], row["body"], headers=json.loads(row["headers"]))

    try:
        started = time.perf_counter()
        await asyncio.gather(*(publish(row) for row in rows))
        return time.perf_counter() - started
    finally:
        await nc.close()


# -- the rebuild ------------------------------------------------------------------------------


async def rebuild_once(nats_url: str, database_url: str) -> tuple[int, float]:
    settings = ReportingSettings(
        nats_url=nats_url,
        database_url=database_url,
        rebuild_retire_after_seconds=0,
        log_level="WARNING",
    )
    report = await rebuild(settings)
    return report.events, report.seconds


async def raw_consume_once(nats_url: str) -> tuple[int, float]:
    """Each stream reporting reads, through an unacknowledged consumer, one after the other
    as the rebuild does: fetch and json.loads."""
    nc: NatsClient = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"bench-consume-{uuid.uuid4().hex[:6]}"
    events = 0
    try:
        started = time.perf_counter()
        for durable in CONSUMERS:
            subscription, count = await _raw_consumer(js, durable, name, acked=False)
            await _read(subscription, count, 1000, ack=False)
            events += count
            await subscription.unsubscribe()
            await js.delete_consumer(durable.stream, name)
        return events, time.perf_counter() - started
    finally:
        await nc.close()


# -- the three rows ---------------------------------------------------------------------------


Say = Callable[[str], None]


async def _repeat(
    figure: Figure,
    repeats: int,
    baseline: Callable[[], Awaitable[float]],
    measured: Callable[[], Awaitable[float]],
    say: Say,
) -> Figure:
    for n in range(repeats):
        figure.baseline_values.append(await baseline())
        figure.values.append(await measured())
        say(
            f"  {figure.path} [{figure.database}] repeat {n + 1}/{repeats}: "
            f"{figure.values[-1]:,.0f} {figure.unit} (baseline {figure.baseline_values[-1]:,.0f})"
        )
    return figure


async def pipeline_figures(
    nats_url: str,
    databases: Databases,
    relay_events: list[EventData],
    repeats: int,
    log_level: str,
    say: Say,
) -> list[Figure]:
    kind = databases.kind

    async def catch_up() -> float:
        async with databases.fresh("catch_up") as url:
            events, seconds = await catch_up_once(nats_url, url, log_level)
        return events / seconds

    async def raw_catch_up() -> float:
        events, seconds = await raw_catch_up_once(nats_url)
        return events / seconds

    async def relay() -> float:
        async with databases.fresh("relay") as url:
            seconds = await relay_once(nats_url, url, relay_events)
        return len(relay_events) / seconds

    async def raw_publish() -> float:
        return len(relay_events) / await raw_publish_once(nats_url, relay_events)

    async def rebuilt() -> float:
        async with databases.fresh("rebuild") as url:
            events, seconds = await rebuild_once(nats_url, url)
        return events / seconds

    async def raw_consume() -> float:
        events, seconds = await raw_consume_once(nats_url)
        return events / seconds

    figures = [
        await _repeat(
            Figure(
                "reporting catch-up",
                kind,
                "ev/s",
                baseline="raw pull + json + ack",
                target="ratio ≥ 0.6",
            ),
            repeats,
            raw_catch_up,
            catch_up,
            say,
        ),
        await _repeat(
            Figure(
                "outbox relay",
                kind,
                "ev/s",
                baseline=f"raw publish, {RELAY_WINDOW} in flight",
                target="ratio ≥ 0.8",
            ),
            repeats,
            raw_publish,
            relay,
            say,
        ),
        await _repeat(
            Figure(
                "yts reporting rebuild",
                kind,
                "ev/s",
                baseline="raw consume + json",
                target="ratio ≥ 0.5",
            ),
            repeats,
            raw_consume,
            rebuilt,
            say,
        ),
    ]
    return figures
