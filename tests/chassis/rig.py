"""A minimal service for chassis tests: its own tables, a real database, a real broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faststream.nats import NatsBroker, NatsRouter
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.broker import durable_subscriber, make_broker
from yts_chassis.consumer import EventConsumer, EventHandler, RetryPolicy
from yts_chassis.database import Database
from yts_chassis.deadletter import DeadLetters
from yts_chassis.inbox import Inbox
from yts_chassis.outbox import Outbox
from yts_chassis.settings import MAX_EVENT_BYTES, ServiceSettings
from yts_chassis.tables import define_messaging_tables
from yts_chassis.topology import DurableConsumer
from yts_contracts.enrolment import SchoolRegistered
from yts_contracts.envelope import ReceivedEvent, to_nats
from yts_contracts.streams import ENROLMENT_STREAM

from tests.support.services import eventually

metadata = MetaData()
messaging = define_messaging_tables(metadata)
applied_table = Table(
    "applied_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("school_name", String(200), nullable=False),
    Column("position", Integer, nullable=False),
)


async def fresh_database(url: str) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return db


def school_event(name: str, event_id: str | None = None) -> tuple[str, dict[str, str], bytes]:
    data = SchoolRegistered(
        school_id=uuid.uuid4(),
        name=name,
        district="Almaly",
        languages=["kk", "ru"],
        registered_at=datetime.now(UTC),
    )
    envelope = to_nats(data, source="/tests", event_id=event_id or str(uuid.uuid4()))
    return envelope.subject, envelope.headers, envelope.body


async def applied_names(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await session.execute(
            select(applied_table.c.school_name).order_by(applied_table.c.position)
        )
        return list(rows.scalars())


async def until_applied(db: Database, names: list[str], timeout: float = 10.0) -> None:
    """Wait until the schools applied are exactly ``names``, in this order."""

    async def applied() -> bool:
        return await applied_names(db) == names

    await eventually(applied, timeout=timeout)


async def count(db: Database, table: Table) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


@dataclass
class ConsumerRig:
    db: Database
    broker: NatsBroker
    durable: DurableConsumer
    consumer: EventConsumer
    failures: dict[str, list[BaseException]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)


async def record_school(session: AsyncSession, event: ReceivedEvent) -> None:
    data = event.data
    assert isinstance(data, SchoolRegistered)
    position = await session.execute(select(func.count()).select_from(applied_table))
    await session.execute(
        applied_table.insert().values(
            event_id=event.attributes.id,
            school_name=data.name,
            position=int(position.scalar_one()),
        )
    )


async def school_consumer(
    js: JetStreamContext, service: str, name: str, ack_wait: float = 30
) -> DurableConsumer:
    """A durable consumer of ``service`` on YTS_ENROLMENT's school events (only new ones), made
    as provisioning makes a service's consumers."""
    durable = DurableConsumer(
        service, name, ENROLMENT_STREAM, "yts.enrolment.school.registered.v1", "chassis test"
    )
    await js.add_consumer(
        ENROLMENT_STREAM,
        config=ConsumerConfig(
            durable_name=name,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            filter_subject=durable.filter_subject,
            ack_wait=ack_wait,
            max_deliver=-1,
        ),
    )
    return durable


@asynccontextmanager
async def consumer_rig(
    js: JetStreamContext,
    nats_url: str,
    database_url: str,
    *,
    batch_size: int = 1,
    batch_timeout: float = 0.3,
    retry: RetryPolicy | None = None,
    handler: Callable[[ConsumerRig], EventHandler] | None = None,
    ack_wait: float = 30,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> AsyncIterator[ConsumerRig]:
    """A durable consumer of our own on YTS_ENROLMENT (only new messages), bound by the
    chassis' subscriber, applying school.registered events into ``applied_events``; the
    consumer's limits are the settings' (``max_event_bytes`` is the body limit)."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    durable = await school_consumer(js, "tests", name, ack_wait)
    db = await fresh_database(database_url)
    settings = ServiceSettings(
        service_name="tests",
        nats_url=nats_url,
        database_url=database_url,
        max_event_bytes=max_event_bytes,
    )
    broker = make_broker(settings)

    def jetstream() -> JetStreamContext | None:
        return broker.connection.jetstream()

    rig = ConsumerRig(db=db, broker=broker, durable=durable, consumer=None)  # type: ignore[arg-type]
    chosen: EventHandler = handler(rig) if handler else record_school
    rig.consumer = EventConsumer(
        service="tests",
        consumer=name,
        db=db,
        inbox=Inbox(messaging),
        dead_letters=DeadLetters("tests", jetstream),
        handlers={SchoolRegistered.event_type: chosen},
        retry=retry or RetryPolicy(base_seconds=0.05, max_seconds=0.2, max_attempts=3),
        heartbeat_seconds=ack_wait / 3,
        max_body_bytes=settings.max_event_bytes,
    )
    router = NatsRouter()

    @durable_subscriber(
        router,
        durable,
        inbox_prefix=settings.nats_inbox_prefix,
        batch_size=batch_size,
        batch_timeout=batch_timeout,
    )
    async def on_events(messages: Sequence[Msg]) -> None:
        await rig.consumer.handle(messages)

    broker.include_router(router)
    await broker.start()
    try:
        yield rig
    finally:
        await broker.stop()
        await db.dispose()
        await js.delete_consumer(ENROLMENT_STREAM, name)


def outbox_for(db: Database) -> Outbox:
    return Outbox(messaging, "/tests")


Check = Callable[[], Awaitable[Any]]
