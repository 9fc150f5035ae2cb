"""The transactional outbox and its relay on a real nats-server: order, Nats-Msg-Id, nothing
lost while NATS is away, and no row skipped when commits land out of sequence order."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.client import JetStreamContext
from sqlalchemy import select, update
from yts_chassis.database import Database
from yts_chassis.outbox import Outbox, OutboxRelay
from yts_contracts.enrolment import SchoolRegistered
from yts_deploy.natsserver import NatsServer
from yts_deploy.provision import provision

from tests.chassis.rig import count, fresh_database, messaging
from tests.support.events import stream_messages
from tests.support.services import eventually


def school(name: str) -> SchoolRegistered:
    return SchoolRegistered(
        school_id=uuid.uuid4(),
        name=name,
        district="Medeu",
        languages=["ru"],
        registered_at=datetime.now(UTC),
    )


class Publisher:
    """The relay's view of NATS: a JetStream context while connected."""

    def __init__(self) -> None:
        self.nc: NatsClient | None = None

    def __call__(self) -> JetStreamContext | None:
        if self.nc is None or not self.nc.is_connected:
            return None
        return self.nc.jetstream()


async def stage(db: Database, outbox: Outbox, names: list[str]) -> list[str]:
    ids = []
    for name in names:  # one transaction per request, like the HTTP side
        async with db.transaction() as session:
            envelope = await outbox.add(session, school(name))
            ids.append(envelope.event_id)
    return ids


async def names_in_stream(js: JetStreamContext, prefix: str) -> list[str]:
    messages = await stream_messages(js, "YTS_ENROLMENT", "yts.enrolment.school.registered.v1")
    names = []
    for message in messages:  # other tests leave poison messages in the shared stream
        with contextlib.suppress(ValueError, RecursionError):
            names.append(str(json.loads(message.data).get("name", "")))
    return [n for n in names if n.startswith(prefix)]


@pytest.fixture
async def relay_parts(database_factory) -> AsyncIterator[tuple[Database, Outbox, Publisher]]:
    db = await fresh_database(await database_factory("outbox"))
    yield db, Outbox(messaging, "/yts/tests"), Publisher()
    await db.dispose()


async def test_committed_events_are_published_in_order_with_their_id_as_msg_id(
    js: JetStreamContext, nc, relay_parts
) -> None:
    db, outbox, publisher = relay_parts
    publisher.nc = nc
    relay = OutboxRelay(db, outbox, publisher, service="tests", poll_seconds=30)
    relay.start()
    prefix = f"order-{uuid.uuid4().hex[:6]}-"
    names = [f"{prefix}{i:02d}" for i in range(25)]
    ids = await stage(db, outbox, names)

    async def all_out() -> bool:
        return await names_in_stream(js, prefix) == names

    # The poll interval is 30 s: only the commit hook can make this pass quickly.
    await eventually(all_out, timeout=5)
    await relay.stop()
    messages = await stream_messages(js, "YTS_ENROLMENT", "yts.enrolment.school.registered.v1")
    ours = [m for m in messages if m.headers and m.headers.get("ce-id") in ids]
    headers = [m.headers or {} for m in ours]
    assert [h["ce-id"] for h in headers] == ids
    assert all(h["Nats-Msg-Id"] == h["ce-id"] for h in headers)
    assert all(h["Content-Type"] == "application/json" for h in headers)
    async with db.session() as session:
        unpublished = await session.execute(
            select(outbox.table.c.event_id).where(outbox.table.c.published_at.is_(None))
        )
        assert unpublished.all() == []


async def test_a_row_committed_after_a_later_sequence_number_is_not_skipped(
    js: JetStreamContext, nc, relay_parts
) -> None:
    db, outbox, publisher = relay_parts
    publisher.nc = nc
    relay = OutboxRelay(db, outbox, publisher, service="tests", poll_seconds=0.2)
    prefix = f"late-{uuid.uuid4().hex[:6]}-"
    await stage(db, outbox, [f"{prefix}early"])
    assert await relay.publish_pending() == 1
    # A transaction that took sequence number 1 but committed after 2 was published looks,
    # to the relay, like an unpublished row below the last one it published.
    await stage(db, outbox, [f"{prefix}slow"])
    async with db.transaction() as session:
        await session.execute(
            update(outbox.table).where(outbox.table.c.published_at.is_(None)).values(seq=0)
        )
    assert await relay.publish_pending() == 1
    assert await names_in_stream(js, prefix) == [f"{prefix}early", f"{prefix}slow"]


async def test_events_wait_while_nats_is_down_and_are_published_once_in_order_after(
    tmp_path: Path, relay_parts
) -> None:
    db, outbox, publisher = relay_parts
    server = NatsServer(store_dir=tmp_path / "nats", name="outage").start()
    port = server.port
    nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        await provision(nc.jetstream())
        publisher.nc = nc
        relay = OutboxRelay(
            db,
            outbox,
            publisher,
            service="tests",
            poll_seconds=0.2,
            publish_timeout=1.0,
            backoff_max=0.5,
        )
        relay.start()
        await stage(db, outbox, ["before-1", "before-2"])
        await eventually(lambda: _published_count(db, outbox, 2))

        server.stop()
        await eventually(lambda: _disconnected(nc))
        during = [f"during-{i}" for i in range(10)]
        await stage(db, outbox, during)  # requests succeed while NATS is away
        await asyncio.sleep(1.0)
        assert await count(db, outbox.table) == 12
        assert await _published_count(db, outbox, 2)

        server = NatsServer(store_dir=tmp_path / "nats", name="outage", port=port).start()
        await eventually(lambda: _published_count(db, outbox, 12), timeout=20)
        await relay.stop()
        names = [
            json.loads(m.data)["name"]
            for m in await stream_messages(nc.jetstream(), "YTS_ENROLMENT")
        ]
        assert names == ["before-1", "before-2", *during]
    finally:
        await nc.close()
        server.stop()


async def _published_count(db: Database, outbox: Outbox, expected: int) -> bool:
    async with db.session() as session:
        rows = await session.execute(
            select(outbox.table.c.seq).where(outbox.table.c.published_at.is_not(None))
        )
        return len(rows.all()) == expected


async def _disconnected(nc: NatsClient) -> bool:
    return not nc.is_connected
