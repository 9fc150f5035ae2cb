"""Poison at scale, on a real nats-server and a real database: thousands of malformed messages
of every kind, mixed with good events, reach a consumer built as services build theirs
(``ServiceRuntime.consumer`` bound by ``durable_subscriber`` to a provisioned durable consumer).
Every malformed message ends in YTS_DLQ with a reason that names its problem, every good event
is applied exactly once, nothing is left pending or awaiting ack, and good events keep being
applied while the poison is handled.

``make test`` runs a short pass (a few hundred messages); the ``slow`` pass sends thousands, and
``YTS_RELIABILITY_SCALE`` multiplies both (``YTS_RELIABILITY_SCALE=10`` for a long run)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from yts_chassis.broker import durable_subscriber
from yts_chassis.deadletter import H_DELIVERIES, H_REASON, H_STREAM_SEQ
from yts_chassis.logs import configure_logging
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import ServiceSettings
from yts_chassis.tables import define_messaging_tables
from yts_chassis.topology import DurableConsumer
from yts_contracts.envelope import ReceivedEvent
from yts_contracts.streams import DLQ_STREAM, ENROLMENT_STREAM
from yts_deploy.natsserver import NatsServer
from yts_reporting.subscriptions import ENROLMENT as REPORTING_ENROLMENT
from yts_sessions.subscriptions import ROSTER as SESSIONS_ROSTER

from tests.reliability.poison import (
    IGNORED,
    SCHOOL,
    TRAINER,
    Message,
    good_events,
    ignored_events,
    poison_makers,
)
from tests.support.broker import provisioned_server
from tests.support.events import stream_messages
from tests.support.metrics import events_handled, served_here

SCALE = float(os.environ.get("YTS_RELIABILITY_SCALE", "1"))
SEED = int(os.environ.get("YTS_RELIABILITY_SEED", "11"))

metadata = MetaData()
messaging = define_messaging_tables(metadata)
# Not keyed by event: an event applied twice shows as two rows.
applied_table = Table(
    "applied_events",
    metadata,
    Column("row", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)


async def apply(session: AsyncSession, event: ReceivedEvent) -> None:
    await session.execute(
        applied_table.insert().values(
            event_id=event.attributes.id,
            event_type=event.attributes.type,
            applied_at=time.time(),
        )
    )


@pytest.fixture
async def nats_of_our_own(tmp_path: Path) -> AsyncIterator[str]:
    """A provisioned nats-server for this test alone: the flood stays out of the streams and
    durable consumers other tests share."""
    with NatsServer(store_dir=tmp_path / "nats", name="yts-poison") as server:
        yield await provisioned_server(server.url)


@contextmanager
def warnings_only_from_libraries() -> Iterator[None]:
    """One warning per dead letter is the service's behaviour; thousands of them are noise
    here, so the chassis' loggers are raised to ERROR for the test (and put back)."""
    configure_logging("tests", "WARNING", "json")
    loggers = [logging.getLogger(name) for name in ("yts_chassis", "faststream")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def start_consumer(
    nats_url: str, database_url: str, durable: DurableConsumer, batch_size: int
) -> ServiceRuntime:
    """The consumer as a service builds it: its runtime, handlers for two event types, and the
    chassis' subscriber bound to the provisioned durable consumer."""
    settings = ServiceSettings(
        service_name=durable.service,
        nats_url=nats_url,
        database_url=database_url,
        retry_base_seconds=0.05,
        retry_max_seconds=0.2,
    )
    runtime = ServiceRuntime(settings, messaging, Path("unused"), configure_logs=False)
    async with runtime.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    consumer = runtime.consumer(durable, {SCHOOL: apply, TRAINER: apply})
    router = NatsRouter()

    @durable_subscriber(
        router,
        durable,
        inbox_prefix=settings.nats_inbox_prefix,
        batch_size=batch_size,
        batch_timeout=0.2,
    )
    async def on_events(messages: Sequence[Msg]) -> None:
        await consumer.handle(messages)

    runtime.broker.include_router(router)
    await runtime.broker.start()
    runtime.broker_started = True
    return runtime


@dataclass
class Sent:
    kinds: dict[int, Message] = field(default_factory=dict)  # by stream sequence
    started: float = 0.0
    finished: float = 0.0

    def count(self) -> Counter[str]:
        return Counter(m.kind for m in self.kinds.values())


async def publish_paced(js: JetStreamContext, messages: Sequence[Message], chunk: int) -> Sent:
    """Publish in chunks with a short pause between them, as traffic arrives, so that the
    consumer works on the mix while it is still coming."""
    sent = Sent(started=time.time())
    for start in range(0, len(messages), chunk):
        part = messages[start : start + chunk]
        acks = await asyncio.gather(
            *(js.publish(m.subject, m.body, headers=m.headers) for m in part)
        )
        for message, ack in zip(part, acks, strict=True):
            assert ack.stream == ENROLMENT_STREAM
            assert not ack.duplicate
            sent.kinds[ack.seq] = message
        await asyncio.sleep(0.05)
    sent.finished = time.time()
    return sent


def compose(per_kind: int, body_limit: int, seed: int) -> list[Message]:
    """``per_kind`` messages of each poison kind, as many good events as poison ones plus
    ``per_kind`` known events the consumer ignores, shuffled together."""
    makers = poison_makers(body_limit)
    poison = [make(n) for make in makers.values() for n in range(per_kind)]
    mix = [*poison, *good_events(len(poison)), *ignored_events(per_kind)]
    random.Random(seed).shuffle(mix)
    return mix


async def run_poison_flood(
    nats_url: str, database_url: str, durable: DurableConsumer, batch_size: int, per_kind: int
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    runtime = await start_consumer(nats_url, database_url, durable, batch_size)
    name = durable.durable
    async with served_here() as metrics:
        before = await events_handled(metrics, name)
    messages = compose(per_kind, runtime.settings.max_event_bytes, SEED)
    poison = [m for m in messages if m.event_id is None]
    goods = {m.event_id: m for m in messages if m.event_id and m.kind != IGNORED}
    ignored = [m for m in messages if m.kind == IGNORED]
    deadline = 60 + len(messages) * 0.05
    try:
        sent = await publish_paced(js, messages, chunk=20)
        last_seq = max(sent.kinds)

        waited = time.monotonic()
        while True:  # until everything was taken and answered, or the time is up
            info = await js.consumer_info(ENROLMENT_STREAM, name)
            taken = info.delivered.stream_seq == last_seq and info.num_pending == 0
            if (taken and info.num_ack_pending == 0) or time.monotonic() - waited > deadline:
                break
            await asyncio.sleep(0.2)
        # Headers only: the bodies may be huge.
        letters = await stream_messages(
            js, DLQ_STREAM, f"yts.dlq.{durable.service}.>", headers_only=True
        )
        async with runtime.db.session() as session:
            rows = (
                await session.execute(
                    select(applied_table.c.event_id, applied_table.c.applied_at).order_by(
                        applied_table.c.row
                    )
                )
            ).all()
            inbox = set(
                (
                    await session.execute(
                        select(messaging.inbox.c.event_id).where(messaging.inbox.c.consumer == name)
                    )
                ).scalars()
            )
            inbox_rows = (
                await session.execute(
                    select(func.count())
                    .select_from(messaging.inbox)
                    .where(messaging.inbox.c.consumer == name)
                )
            ).scalar_one()
    finally:
        await runtime.stop()
        await nc.close()
    async with served_here() as metrics:
        after = await events_handled(metrics, name)
    outcomes = {k: after.get(k, 0) - before.get(k, 0) for k in after}

    # What was sent, and what became of it.
    sent_per_kind = Counter(m.kind for m in poison)
    dead_per_kind: Counter[str] = Counter()
    wrong_reasons: list[tuple[str, str]] = []
    not_at_once: list[tuple[str, str]] = []  # dead-lettered after more than one delivery
    for letter in letters:
        assert letter.headers is not None
        original = sent.kinds[int(letter.headers[H_STREAM_SEQ])]
        dead_per_kind[original.kind] += 1
        reason = letter.headers[H_REASON]
        if not all(part in reason for part in original.reason_says) or original.event_id:
            wrong_reasons.append((original.kind, reason[:300]))
        if letter.headers[H_DELIVERIES] != "1":
            not_at_once.append((original.kind, letter.headers[H_DELIVERIES]))
    applied = Counter(event_id for event_id, _ in rows)
    lost = set(goods) - set(applied)
    duplicated = {event_id: n for event_id, n in applied.items() if n > 1}
    unexpected = set(applied) - set(goods)

    # Good events kept flowing: applied while the poison was being dead-lettered, with no
    # pause anywhere near the ack wait (which a stalled pull loop would have to sit out).
    dead_at = sorted(letter.metadata.timestamp.timestamp() for letter in letters)
    applied_at = sorted(at for _, at in rows)
    during = sum(1 for at in applied_at if dead_at[0] <= at <= dead_at[-1]) if dead_at else 0
    progress = sorted([*dead_at, *applied_at])
    longest_pause = max((b - a for a, b in itertools.pairwise(progress)), default=0)

    lines = [
        f"poison at scale ({durable.durable}, batch size {batch_size}, "
        f"{len(messages)} messages published in {sent.finished - sent.started:.1f} s)",
        f"  {'kind':<28}{'sent':>7}{'dead-lettered':>15}",
        *(f"  {k:<28}{n:>7}{dead_per_kind[k]:>15}" for k, n in sorted(sent_per_kind.items())),
        f"  good events: sent {len(goods)}, applied {len(applied)}, lost {len(lost)}, "
        f"duplicated {len(duplicated)}; ignored (not needed) {len(ignored)}",
        f"  {during} of {len(applied_at)} good events applied while poison was handled; "
        f"longest pause {longest_pause:.2f} s; all settled "
        f"{(progress[-1] if progress else sent.finished) - sent.started:.1f} s after the "
        "first publish",
        f"  consumer: pending {info.num_pending}, awaiting ack {info.num_ack_pending}, "
        f"redelivered {info.num_redelivered}; metrics {dict(sorted(outcomes.items()))}",
    ]
    print("\n" + "\n".join(lines))

    assert dict(dead_per_kind) == dict(sent_per_kind), "\n".join(lines)
    assert len(letters) == len(poison)
    assert wrong_reasons == [], wrong_reasons[:10]
    assert not_at_once == [], not_at_once[:10]
    assert lost == set(), "\n".join(lines)
    assert duplicated == {}, "\n".join(lines)
    assert unexpected == set(), "\n".join(lines)
    assert inbox == set(goods)
    assert inbox_rows == len(goods)
    assert info.num_pending == 0
    assert info.num_ack_pending == 0
    assert info.num_redelivered == 0
    assert info.delivered.stream_seq == last_seq
    assert outcomes.get("dead_lettered", 0) == len(poison)
    assert outcomes.get("applied", 0) == len(goods)
    assert outcomes.get("ignored", 0) == len(ignored)
    assert outcomes.get("duplicate", 0) == 0
    assert outcomes.get("retried", 0) == 0
    assert during >= 0.5 * len(goods), "\n".join(lines)
    assert longest_pause < durable.ack_wait_seconds / 2, "\n".join(lines)


CONSUMERS = [
    # sessions' roster: one message per fetch, in order.
    pytest.param(SESSIONS_ROSTER, 1, id="one-at-a-time"),
    # reporting's projections: batches applied in one transaction each.
    pytest.param(REPORTING_ENROLMENT, 500, id="batches"),
]


@pytest.mark.timeout(int(120 * max(1.0, SCALE)))
@pytest.mark.parametrize(("durable", "batch_size"), CONSUMERS)
async def test_poison_of_every_kind_is_dead_lettered_and_good_events_apply_once(
    nats_of_our_own: str, database_factory, durable: DurableConsumer, batch_size: int
) -> None:
    per_kind = max(1, round(20 * SCALE))  # 10 kinds: 200 poison, 200 good, 20 ignored
    with warnings_only_from_libraries():
        await run_poison_flood(
            nats_of_our_own, await database_factory("poison"), durable, batch_size, per_kind
        )


@pytest.mark.slow
@pytest.mark.timeout(int(900 * max(1.0, SCALE)))
@pytest.mark.parametrize(("durable", "batch_size"), CONSUMERS)
async def test_thousands_of_poison_messages_are_dead_lettered_and_good_events_apply_once(
    nats_of_our_own: str, database_factory, durable: DurableConsumer, batch_size: int
) -> None:
    per_kind = max(1, round(300 * SCALE))  # 10 kinds: 3000 poison, 3000 good, 300 ignored
    with warnings_only_from_libraries():
        await run_poison_flood(
            nats_of_our_own, await database_factory("poison"), durable, batch_size, per_kind
        )
