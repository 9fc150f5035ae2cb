"""Transactional outbox and its relay.

A use case adds its events to the outbox in the same transaction as its state change. The relay
publishes unpublished rows in order, with ``Nats-Msg-Id`` = event id, keeping up to ``window``
publishes in flight (sent one after the other on one connection, so the stream stores them in
order), and marks published the leading run of rows whose PubAck came back. A row whose PubAck
does not come is published again from there on the next pass; the rows after it that did reach
the stream are dropped by the server's duplicate window as repeats of their ``Nats-Msg-Id``.
NATS being down means rows wait; nothing is lost and no request fails. A commit that carried
events wakes the relay at once; a slow poll is only a safety net (another replica's commit, a
missed wake-up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type
from yts_contracts.envelope import NatsEnvelope, to_nats
from yts_contracts.event import EventData

from yts_chassis.access.principal import CURRENT_ACTOR
from yts_chassis.database import Database
from yts_chassis.ids import new_id
from yts_chassis.logs import get_logger
from yts_chassis.metrics import OUTBOX_PENDING, OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED
from yts_chassis.retrying import Backoff, warn_before_retry
from yts_chassis.tables import MessagingTables

log = get_logger(__name__)

# One relay at a time per database on PostgreSQL, so that order holds across replicas.
_RELAY_LOCK_KEY = 0x5954_5330  # "YTS0"
# Marks a session whose transaction staged events (``Outbox.add``): its commit wakes the relay.
STAGED = "yts_outbox_staged"


class JetStreamPublisher(Protocol):
    """nats-py's JetStream context, as far as the relay uses it."""

    _nc: Any  # the connection: one context per connection keeps one reply subscription

    async def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> Any: ...

    async def publish_async(
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: float | None = None,
        stream: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> asyncio.Future[Any]: ...


class Outbox:
    def __init__(self, tables: MessagingTables, source: str) -> None:
        self.table = tables.outbox
        self.source = source

    def envelope(
        self, data: EventData, *, event_id: Any = None, time: datetime | None = None
    ) -> NatsEnvelope:
        # Who caused it: the request's caller (``ce-actor``); none for a consumer's events.
        return to_nats(
            data,
            source=self.source,
            event_id=event_id or new_id(),
            time=time,
            actor=CURRENT_ACTOR.get(),
        )

    async def add(
        self,
        session: AsyncSession,
        data: EventData,
        *,
        time: datetime | None = None,
    ) -> NatsEnvelope:
        """Stage one event in the caller's transaction; it is published after commit."""
        envelope = self.envelope(data, time=time)
        await session.execute(
            self.table.insert().values(
                event_id=envelope.event_id,
                event_type=data.event_type,
                subject=envelope.subject,
                headers=json.dumps(envelope.headers, sort_keys=True),
                body=envelope.body,
                created_at=datetime.now(UTC),
                attempts=0,
            )
        )
        session.sync_session.info[STAGED] = True
        return envelope

    async def pending(self, session: AsyncSession) -> int:
        result = await session.execute(
            select(func.count()).select_from(self.table).where(self.table.c.published_at.is_(None))
        )
        return int(result.scalar_one())


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        publisher_factory: Callable[[], JetStreamPublisher | None],
        *,
        service: str,
        batch_size: int = 200,
        poll_seconds: float = 2.0,
        publish_timeout: float = 5.0,
        backoff_first: float = 0.4,
        backoff_max: float = 10.0,
        window: int = 256,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.publisher_factory = publisher_factory
        self.service = service
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.publish_timeout = publish_timeout
        self.window = window
        self._publisher: JetStreamPublisher | None = None  # one per connection (see _reuse)
        # NATS away: retry forever, waiting 0.4 s doubling to 10 s, half of it jittered.
        self.backoff = Backoff(backoff_first, backoff_max, jitter=0.5)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._drain_until: float | None = None  # loop time; set by stop()
        db.after_commit(self._wake_if_staged)
        db.after_rollback(_forget_staged)

    def wake(self) -> None:
        self._wake.set()

    def _wake_if_staged(self, session: Session) -> None:
        if session.info.pop(STAGED, False):
            self.wake()

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._drain_until = None
            self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Publish until the outbox is empty or ``drain_timeout`` has passed, then stop.

        Past the deadline no publish starts; the rows already acknowledged are marked, so that
        a restart does not publish them again (the server's duplicate window would hide that
        for ten minutes only). A publish in flight at the deadline has its own timeout; the
        relay is cancelled only if it has not returned by then.
        """
        if self._task is None:
            return
        self._drain_until = asyncio.get_running_loop().time() + drain_timeout
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(
                asyncio.shield(self._task), timeout=drain_timeout + self.publish_timeout + 1.0
            )
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        publishing = AsyncRetrying(
            wait=self.backoff,
            retry=retry_if_exception_type(Exception),
            after=self._count_failure,
            before_sleep=warn_before_retry(log, "outbox publish failed; will retry"),
            sleep=self._wait_unless_stopping,
        )
        while True:
            try:
                published: int = await publishing(self.publish_pending)
            except _Stopping:
                return  # NATS was failing just now: the rows wait for the next start
            if self._stopping.is_set() and (not published or self._drain_over()):
                return  # drained, or out of time: the rest waits for the next start
            if published == self.batch_size or (published and self._stopping.is_set()):
                continue  # more may be waiting (a commit since has woken the relay anyway)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished rows in order; returns how many were published.

        Selects rows that are unpublished rather than rows after the last one seen, so rows
        whose transactions committed out of sequence order are never skipped.
        """
        publisher = self.publisher_factory()
        if publisher is None:
            return 0  # not connected (yet): rows wait; the connection wakes the relay
        if self.db.is_sqlite:
            # One writer: read, publish, then take the writer's turn only to mark, so that
            # requests' transactions never wait for NATS.
            async with self.db.session() as session:
                rows = await self._unpublished(session)
            acks, unpublished = await self._publish_in_order(self._reuse(publisher), rows)
            if acks or unpublished:
                async with self.db.transaction() as session:
                    await self._mark(session, acks, unpublished)
        else:
            async with self.db.transaction() as session:
                # One relay at a time per database, so that order holds across replicas.
                locked = await session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RELAY_LOCK_KEY}
                )
                if not locked.scalar_one():
                    return 0  # another replica's relay is publishing
                rows = await self._unpublished(session)
                acks, unpublished = await self._publish_in_order(self._reuse(publisher), rows)
                await self._mark(session, acks, unpublished)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(acks))
        if len(rows) < self.batch_size:
            # Every unpublished row was read: what is left of them is what waits.
            OUTBOX_PENDING.labels(self.service).set(len(rows) - len(acks))
        if unpublished is not None:
            raise unpublished[1]
        return len(acks)

    async def _unpublished(self, session: AsyncSession) -> Sequence[Row[Any, Any, Any, Any, Any]]:
        table = self.outbox.table
        return (
            await session.execute(
                select(
                    table.c.seq, table.c.event_id, table.c.subject, table.c.headers, table.c.body
                )
                .where(table.c.published_at.is_(None))
                .order_by(table.c.seq)
                .limit(self.batch_size)
            )
        ).all()

    async def _mark(
        self,
        session: AsyncSession,
        acks: Sequence[tuple[int, int | None]],
        unpublished: tuple[Any, Exception] | None,
    ) -> None:
        """Mark the acknowledged rows published, and count a failed attempt on the row that
        was not."""
        table = self.outbox.table
        if unpublished is not None:
            row, failure = unpublished
            await session.execute(
                update(table)
                .where(table.c.seq == row.seq)
                .values(attempts=table.c.attempts + 1, last_error=repr(failure)[:2000])
            )
        if acks:
            now = datetime.now(UTC)
            await session.execute(
                update(table)
                .where(table.c.seq == bindparam("b_seq"))
                .values(published_at=now, stream_seq=bindparam("b_stream_seq")),
                [{"b_seq": seq, "b_stream_seq": stream_seq} for seq, stream_seq in acks],
            )

    def _count_failure(self, _retry_state: RetryCallState) -> None:
        OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()

    async def _wait_unless_stopping(self, seconds: float) -> None:
        """The wait between failed publishes; a stop ends it, and the relay with it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        if self._stopping.is_set():
            raise _Stopping

    def _drain_over(self) -> bool:
        return (
            self._drain_until is not None and asyncio.get_running_loop().time() >= self._drain_until
        )

    def _reuse(self, publisher: JetStreamPublisher) -> JetStreamPublisher:
        """The context first seen for this connection: each context subscribes once to its
        PubAcks, so a context made anew per pass would leave a subscription behind each time."""
        kept = self._publisher
        if kept is None or kept._nc is not publisher._nc:
            self._publisher = kept = publisher
        return kept

    async def _publish_in_order(
        self, publisher: JetStreamPublisher, rows: Sequence[Row[Any, Any, Any, Any, Any]]
    ) -> tuple[list[tuple[int, int | None]], tuple[Any, Exception] | None]:
        """Publish ``rows`` in order, up to ``window`` PubAcks outstanding; returns the leading
        run of rows acknowledged (seq, stream seq), and the first row that was not with why.
        Rows after that one are left for the next pass, whatever became of them."""
        in_flight: deque[tuple[Any, asyncio.Future[Any]]] = deque()
        acks: list[tuple[int, int | None]] = []

        async def settle_oldest() -> None:
            row, future = in_flight[0]
            try:
                ack = await asyncio.wait_for(future, timeout=self.publish_timeout)
            except Exception as exc:
                raise _Unpublished(row, exc) from exc
            in_flight.popleft()
            acks.append((row.seq, ack_seq(ack)))

        try:
            for row in rows:
                if self._drain_over():
                    break  # stopping: mark what was acknowledged; the rest waits
                if len(in_flight) >= self.window:
                    await settle_oldest()
                try:
                    future = await publisher.publish_async(
                        row.subject, row.body, headers=json.loads(row.headers)
                    )
                except Exception as exc:
                    raise _Unpublished(row, exc) from exc
                in_flight.append((row, future))
            while in_flight:
                await settle_oldest()
        except _Unpublished as unpublished:
            for _, future in in_flight:
                future.cancel()
            return acks, (unpublished.row, unpublished.failure)
        return acks, None


class _Unpublished(Exception):
    def __init__(self, row: Any, failure: Exception) -> None:
        super().__init__(repr(failure))
        self.row = row
        self.failure = failure


class _Stopping(Exception):
    """The relay stopped while waiting to retry."""


def _forget_staged(session: Session) -> None:
    session.info.pop(STAGED, None)


def ack_seq(ack: Any) -> int | None:
    seq = getattr(ack, "seq", None)
    return int(seq) if seq is not None else None
