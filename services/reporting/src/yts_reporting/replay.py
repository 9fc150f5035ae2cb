"""Rebuild the read models by replaying the streams, without downtime (the command line is
``rebuild.py``):

1. Claim the next generation (refused while another rebuild runs, unless ``force``); from then
   on the live consumers apply each event to the served generation *and* the new one, so
   nothing published during the rebuild is missed (see ``generations.py``).
2. Note where each stream ends, then replay it from its first message through a short-lived
   consumer of our own, ``reporting-rebuild`` on each stream (no acks; the live durable
   consumers are not touched), applying the same projection handlers to the new generation
   only, a batch per transaction. The name is fixed so that the ``reporting-rebuild`` NATS user
   may reach that consumer and no other (see deploy/nats/service-users.conf).
3. Switch over: one update makes the new generation the served one. Requests already reading
   the previous generation finish on it; its rows are deleted after a grace period.

The projections are order-free upserts, so an event applied by both the replay and a live
consumer, in either order, leaves the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from yts_chassis.consumer import EventHandler
from yts_chassis.database import Database, is_transient
from yts_chassis.logs import get_logger
from yts_chassis.migrations import upgrade_async
from yts_chassis.retrying import Backoff
from yts_chassis.topology import DurableConsumer
from yts_contracts.envelope import ContractViolation, ReceivedEvent, from_nats

from yts_reporting.generations import (
    RebuildRefused,
    claim,
    release,
    retire,
    switch_over,
    write_only,
)
from yts_reporting.projections import Projections
from yts_reporting.settings import ReportingSettings
from yts_reporting.store import MIGRATIONS
from yts_reporting.subscriptions import SUBSCRIPTIONS

log = get_logger(__name__)

# The replay's consumer on each stream it reads. NATS permissions match whole subject tokens, so
# the name is fixed: the `reporting-rebuild` user may create, read and delete consumers of this
# name only, never the services' or partners' durable consumers. One rebuild runs at a time
# (``claim``), and each starts by deleting what a crashed one left behind.
REBUILD_CONSUMER = "reporting-rebuild"


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def stream(self, name: str) -> None: ...

    def advance(self, events: int) -> None: ...

    def finish(self) -> None: ...


class Silent:
    def start(self, total: int) -> None:
        pass

    def stream(self, name: str) -> None:
        pass

    def advance(self, events: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RebuildReport:
    previous: int
    generation: int
    events: int = 0
    applied: int = 0
    skipped: int = 0
    seconds: float = 0.0
    by_stream: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"rebuilt generation {self.generation} from {self.events} events "
            f"({self.applied} applied, {self.skipped} not for reporting or invalid) in "
            f"{self.seconds:.1f} s ({self.events_per_second:,.0f} events/s); now serving "
            f"generation {self.generation}, generation {self.previous} retired"
        )


class Replay:
    """Applies the messages of one stream to one generation, a batch per transaction."""

    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, EventHandler],
        generation: int,
        report: RebuildReport,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.generation = generation
        self.report = report

    async def apply(self, messages: Sequence[Msg]) -> None:
        events = []
        for msg in messages:
            try:
                received = from_nats(msg.subject, msg.headers, msg.data)
            except ContractViolation:
                # The live consumer dead-letters these; a replay just passes them by.
                self.report.skipped += 1
                continue
            if received.attributes.type in self.handlers:
                events.append(received)
            else:
                self.report.skipped += 1
        # The database away for a moment: six attempts, 0.4 s doubling in between.
        writing = AsyncRetrying(
            wait=Backoff(0.4, 6.4),
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(6),
            reraise=True,
        )
        await writing(self._write, events)
        self.report.applied += len(events)

    async def _write(self, events: Sequence[ReceivedEvent]) -> None:
        async with self.db.transaction() as session:
            write_only(session, self.generation)
            for received in events:
                await self.handlers[received.attributes.type](session, received)


async def replay_stream(
    js: JetStreamContext,
    durable: DurableConsumer,
    replay: Replay,
    progress: Progress,
    batch_size: int,
) -> int:
    """Replay ``durable``'s stream (same filter) up to its last message as of now."""
    info = await js.stream_info(durable.stream)
    last = info.state.last_seq
    if not info.state.messages or last < info.state.first_seq:
        return 0
    name = REBUILD_CONSUMER
    # A crashed rebuild's consumer lingers until its inactive threshold: start from nothing.
    await _delete_rebuild_consumer(js, durable.stream)
    await js.add_consumer(
        durable.stream,
        ConsumerConfig(
            name=name,
            description="reporting rebuild (short-lived, deleted when done)",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            filter_subject=durable.filter_subject,
            inactive_threshold=60.0,
        ),
    )
    subscription = await js.pull_subscribe_bind(consumer=name, stream=durable.stream)

    async def next_batch() -> list[Msg]:
        try:
            return await subscription.fetch(batch=batch_size, timeout=2.0)
        except TimeoutError:  # nats' and asyncio's alike
            return []

    count = 0
    upcoming: asyncio.Task[list[Msg]] | None = None
    try:
        position = 0
        upcoming = asyncio.create_task(next_batch())
        while position < last and upcoming is not None:
            messages = await upcoming
            if not messages:
                if not (await js.consumer_info(durable.stream, name)).num_pending:
                    break  # messages past the filter, or the tail was removed: done
                upcoming = asyncio.create_task(next_batch())
                continue
            position = max(position, *(m.metadata.sequence.stream for m in messages))
            # Fetch (and parse) the next batch while this one is written.
            upcoming = asyncio.create_task(next_batch()) if position < last else None
            await replay.apply(messages)
            count += len(messages)
            progress.advance(len(messages))
    finally:
        if upcoming is not None and not upcoming.done():
            upcoming.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await upcoming
        await subscription.unsubscribe()
        try:
            await js.delete_consumer(durable.stream, name)
        except Exception as exc:  # it expires by itself after its inactive threshold
            log.debug("rebuild consumer not deleted", error=repr(exc))
    return count


async def _delete_rebuild_consumer(js: JetStreamContext, stream: str) -> None:
    """Delete the rebuild's consumer on ``stream`` if one is left there."""
    try:
        await js.delete_consumer(stream, REBUILD_CONSUMER)
    except NotFoundError:
        pass
    else:
        log.info("deleted a previous rebuild's consumer", stream=stream)


async def rebuild(
    settings: ReportingSettings,
    *,
    force: bool = False,
    progress: Progress | None = None,
    retire_after: float | None = None,
    batch_size: int | None = None,
) -> RebuildReport:
    """Replay every stream reporting reads into a new generation and switch over."""
    progress = progress or Silent()
    batch = batch_size or settings.rebuild_batch_size
    db = Database(settings.database_url)
    nc = None
    try:
        await upgrade_async(settings.database_url, MIGRATIONS)
        options: dict[str, object] = {
            "servers": settings.nats_servers,
            "name": "yts-reporting-rebuild",
            "inbox_prefix": settings.nats_inbox_prefix,
            "connect_timeout": 5,
            # A command, not a service: an unreachable server fails it in seconds, not minutes.
            "max_reconnect_attempts": 3,
        }
        if settings.nats_user:
            options["user"] = settings.nats_user
            if settings.nats_password:
                options["password"] = settings.nats_password.get_secret_value()
        nc = await nats.connect(**options)  # type: ignore[arg-type]
        js = nc.jetstream()
        served, new = await claim(db, force=force)
        report = RebuildReport(previous=served, generation=new)
        projections = Projections(settings.zone, db)
        started = time.perf_counter()
        try:
            total = 0
            for durable, _ in SUBSCRIPTIONS:
                total += (await js.stream_info(durable.stream)).state.messages
            progress.start(total)
            for durable, event_types in SUBSCRIPTIONS:
                progress.stream(durable.stream)
                replay = Replay(db, projections.handlers(*event_types), new, report)
                report.by_stream[durable.stream] = await replay_stream(
                    js, durable, replay, progress, batch
                )
            report.events = sum(report.by_stream.values())
            await switch_over(db, served, new)
            report.seconds = time.perf_counter() - started
        except RebuildRefused:
            raise  # another rebuild owns the new generation now: leave it alone
        except BaseException:
            await release(db, new)
            raise
        finally:
            progress.finish()
        log.info(
            "read models rebuilt",
            generation=new,
            events=report.events,
            seconds=round(report.seconds, 2),
            events_per_second=round(report.events_per_second),
        )
        grace = settings.rebuild_retire_after_seconds if retire_after is None else retire_after
        await asyncio.sleep(grace)  # requests already reading the old generation finish on it
        await retire(db, keep=new)
        return report
    finally:
        if nc is not None:
            await nc.close()
        await db.dispose()
