"""Applying events from a durable pull consumer: validate, apply and record in the inbox in one
transaction, then ack.

Ack policy, chosen on purpose (see the design's known traps): subscribers use FastStream's
``AckPolicy.MANUAL`` and this module decides per message:

- applied or duplicate: acked after the commit, the whole batch in one round trip (an ack
  each, then one flush: a lost ack means a redelivery the inbox recognises as a duplicate);
- poison (a body over the size limit or not decodable at all, bad JSON, unknown type or
  version, invalid data, or a handler's ``RejectEvent``): published to ``YTS_DLQ`` with the
  reason, then ``term``;
- transient fault (database or network away): ``nak`` with an exponential delay, forever;
- any other handler error: ``nak`` with delay, dead-lettered after ``max_attempts`` deliveries.

A message delivered more than ``max_attempts`` times is counted in
``yts_events_redelivered_past_limit_total`` and logged at warning level, whatever keeps it
coming back: a long outage loses nothing, and nothing loops unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import structlog
from nats.aio.msg import Msg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from yts_contracts.catalog import CATALOG, Catalog
from yts_contracts.envelope import ContractViolation, ReceivedEvent, from_nats

from yts_chassis.database import Database, is_transient
from yts_chassis.deadletter import DeadLetters
from yts_chassis.inbox import Inbox
from yts_chassis.logs import get_logger
from yts_chassis.metrics import (
    EVENT_BATCH_SECONDS,
    EVENTS_HANDLED,
    EVENTS_REDELIVERED_PAST_LIMIT,
)
from yts_chassis.retrying import Backoff
from yts_chassis.settings import MAX_EVENT_BYTES

log = get_logger(__name__)
# The same logger's stdlib side, to ask once per batch whether debug lines are wanted.
_stdlib_log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, ReceivedEvent], Awaitable[None]]

# The outcomes of the batch being handled, for its one line (one batch at a time per task).
_outcomes: ContextVar[Counter[str] | None] = ContextVar("yts_consumer_outcomes", default=None)


class RejectEvent(Exception):
    """Raised by a handler for an event that can never be applied; it is dead-lettered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed event comes back: naked with the chassis' backoff (``base_seconds``
    doubling per delivery up to ``max_seconds``, a quarter of jitter), dead-lettered after
    ``max_attempts`` deliveries unless the fault is transient."""

    base_seconds: float = 0.5
    max_seconds: float = 60.0
    max_attempts: int = 8

    @property
    def backoff(self) -> Backoff:
        return Backoff(self.base_seconds, self.max_seconds, jitter=0.25)

    def delay(self, deliveries: int) -> float:
        """The nak delay of a message delivered ``deliveries`` times."""
        return self.backoff.after(deliveries)


class EventConsumer:
    """Applies the events of one durable consumer through the service's handlers."""

    def __init__(
        self,
        *,
        service: str,
        consumer: str,
        db: Database,
        inbox: Inbox,
        dead_letters: DeadLetters,
        handlers: Mapping[str, EventHandler],
        retry: RetryPolicy | None = None,
        catalog: Catalog = CATALOG,
        heartbeat_seconds: float = 5.0,
        max_body_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.service = service
        self.consumer = consumer
        self.db = db
        self.inbox = inbox
        self.dead_letters = dead_letters
        self.handlers = dict(handlers)
        self.retry = retry or RetryPolicy()
        self.catalog = catalog
        self.heartbeat_seconds = heartbeat_seconds
        self.max_body_bytes = max_body_bytes

    async def handle(self, messages: Sequence[Msg]) -> None:
        """Handle a batch (or a single message) in delivery order.

        Consumers keep a short ack wait so that a crashed replica's messages come back soon;
        while a long batch is being applied, a heartbeat tells the server it is in progress.
        """
        self._note_redeliveries_past_limit(messages)
        started = time.perf_counter()
        outcomes: Counter[str] = Counter()
        token = _outcomes.set(outcomes)
        heartbeat = asyncio.create_task(self._heartbeat(messages))
        try:
            await self._handle(messages)
        finally:
            _outcomes.reset(token)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        seconds = time.perf_counter() - started
        EVENT_BATCH_SECONDS.labels(self.service, self.consumer).observe(seconds)
        # One line per batch at info; the line per event is at debug (it costs a projection
        # about a tenth of its time).
        log.info(
            "events handled",
            consumer=self.consumer,
            events=len(messages),
            **dict(sorted(outcomes.items())),
            duration_ms=round(seconds * 1000, 1),
        )

    async def _heartbeat(self, messages: Sequence[Msg]) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            for msg in messages:
                if not msg.is_acked:
                    await _quietly(msg.in_progress())

    def _note_redeliveries_past_limit(self, messages: Sequence[Msg]) -> None:
        # Counted before anything else runs, so that even a message whose handling fails in a
        # way nobody foresaw shows up in /metrics and the logs instead of looping silently.
        past = [msg for msg in messages if _deliveries(msg) > self.retry.max_attempts]
        if not past:
            return
        EVENTS_REDELIVERED_PAST_LIMIT.labels(self.service, self.consumer).inc(len(past))
        log.warning(
            "events redelivered past the attempt limit",
            consumer=self.consumer,
            events=len(past),
            max_attempts=self.retry.max_attempts,
            most_deliveries=max(_deliveries(msg) for msg in past),
            stream_seqs=[_stream_seq(msg) for msg in past[:10]],
        )

    def _decode(self, msg: Msg) -> ReceivedEvent:
        """The event a message carries; ContractViolation when it can never be decoded."""
        size = len(msg.data)
        if size > self.max_body_bytes:
            raise ContractViolation(
                f"body of {size} bytes is over the limit of {self.max_body_bytes} bytes"
            )
        try:
            return from_nats(msg.subject, msg.headers, msg.data, self.catalog)
        except ContractViolation:
            raise
        except Exception as exc:
            # Decoding does no I/O: what fails now fails on every delivery, so it is poison.
            raise ContractViolation(f"could not decode the message: {exc!r}") from exc

    async def apply_again(
        self, subject: str, headers: Mapping[str, str] | None, data: bytes
    ) -> str:
        """Apply a dead-lettered message once more, through this consumer's own decoding,
        handlers and inbox (a redrive, once its fault is fixed): "applied", "duplicate" (the
        inbox had it: exactly once) or "ignored" (no handler wants it now). Raises what
        dead-lettered it if it still fails: ``ContractViolation``, ``RejectEvent`` or the
        handler's error."""
        # A message read back from the stream, not delivered: it has no connection to ack on.
        message = Msg(cast(Any, None), subject=subject, headers=dict(headers or {}), data=data)
        received = self._decode(message)
        if received.attributes.type not in self.handlers:
            return "ignored"
        (outcome,) = await self._apply([(message, received)])
        return outcome

    async def _handle(self, messages: Sequence[Msg]) -> None:
        relevant: list[tuple[Msg, ReceivedEvent]] = []
        ignored: list[Msg] = []
        for msg in messages:
            try:
                received = self._decode(msg)
            except ContractViolation as violation:
                await self._dead_letter(msg, violation.reason)
                continue
            if received.attributes.type in self.handlers:
                relevant.append((msg, received))
            else:
                ignored.append(msg)  # a known event this service does not need
        if not relevant:
            await self._ack((ignored, "ignored"))
            return
        try:
            outcomes = await self._apply(relevant)
        except Exception as exc:
            await self._ack((ignored, "ignored"))
            if is_transient(exc) or len(relevant) == 1:
                await self._failed(relevant, exc)
            else:
                # Find the event at fault: apply one at a time, in order.
                await self._apply_one_by_one(relevant)
            return
        await self._ack(
            (ignored, "ignored"),
            *(
                ([m for (m, _), o in zip(relevant, outcomes, strict=True) if o == outcome], outcome)
                for outcome in ("applied", "duplicate")
            ),
        )

    async def _apply(self, batch: Sequence[tuple[Msg, ReceivedEvent]]) -> list[str]:
        """Apply a batch in one transaction; returns each event's outcome, in batch order."""
        outcomes: list[str] = []
        debug = _stdlib_log.isEnabledFor(logging.DEBUG)
        # Each event's context (event_id, event_type, trace_id) is bound for what its handler
        # logs; in a batch (projections, which log nothing per event) only at debug, since
        # binding costs about 5 µs an event there.
        bind = debug or len(batch) == 1
        handlers = self.handlers
        async with self.db.transaction() as session:
            seen = await self.inbox.seen(
                session, self.consumer, [r.attributes.id for _, r in batch]
            )
            fresh: list[tuple[str, str]] = []
            for _msg, received in batch:
                attributes = received.attributes
                event_id = attributes.id
                if event_id in seen:
                    outcomes.append("duplicate")
                    continue
                seen.add(event_id)
                if bind:
                    with structlog.contextvars.bound_contextvars(
                        event_id=event_id,
                        event_type=attributes.type,
                        trace_id=_trace_id(received),
                    ):
                        await handlers[attributes.type](session, received)
                else:
                    await handlers[attributes.type](session, received)
                fresh.append((event_id, attributes.type))
                outcomes.append("applied")
            await self.inbox.record(session, self.consumer, fresh)
        if not debug:
            return outcomes
        for (_msg, received), outcome in zip(batch, outcomes, strict=True):
            # The line per handled event, written once its effect is committed.
            log.debug(
                "event handled",
                consumer=self.consumer,
                event_id=received.attributes.id,
                event_type=received.attributes.type,
                outcome=outcome,
                trace_id=_trace_id(received),
            )
        return outcomes

    async def _apply_one_by_one(self, batch: Sequence[tuple[Msg, ReceivedEvent]]) -> None:
        for index, (msg, received) in enumerate(batch):
            try:
                (outcome,) = await self._apply([(msg, received)])
            except Exception as exc:
                if isinstance(exc, RejectEvent) or (
                    not is_transient(exc) and _deliveries(msg) >= self.retry.max_attempts
                ):
                    await self._failed([(msg, received)], exc)
                    continue
                # Keep the order: this event and every later one come back later.
                await self._failed(list(batch[index:]), exc)
                return
            await self._ack(([msg], outcome))

    async def _failed(self, batch: Sequence[tuple[Msg, ReceivedEvent]], exc: Exception) -> None:
        if isinstance(exc, IntegrityError) and len(batch) == 1:
            # A concurrent replica recorded the same event first: nothing left to do.
            async with self.db.session() as session:
                if await self.inbox.seen(session, self.consumer, [batch[0][1].attributes.id]):
                    await self._ack(([batch[0][0]], "duplicate"))
                    return
        for msg, received in batch:
            deliveries = _deliveries(msg)
            if isinstance(exc, RejectEvent):
                await self._dead_letter(msg, exc.reason)
            elif not is_transient(exc) and deliveries >= self.retry.max_attempts:
                await self._dead_letter(
                    msg, f"handler failed {deliveries} times; last error: {exc!r}"
                )
            else:
                delay = self.retry.delay(deliveries)
                log.warning(
                    "event not applied; will be redelivered",
                    consumer=self.consumer,
                    event_id=received.attributes.id,
                    event_type=received.attributes.type,
                    transient=is_transient(exc),
                    deliveries=deliveries,
                    retry_in_seconds=round(delay, 2),
                    error=repr(exc),
                )
                await _quietly(msg.nak(delay=delay))
                self._count("retried")

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        try:
            await self.dead_letters.send(msg, self.consumer, reason)
        except Exception as exc:
            # The DLQ itself is unreachable: keep the message for later instead.
            log.warning(
                "dead-letter publish failed; message kept", error=repr(exc), consumer=self.consumer
            )
            await _quietly(msg.nak(delay=self.retry.delay(_deliveries(msg))))
            return
        self._count("dead_lettered")

    async def _ack(self, *groups: tuple[Sequence[Msg], str]) -> None:
        """Ack messages whose effect is committed (or that this service ignores), in one round
        trip: an ack each (a publish, no reply awaited), then one flush for all of them."""
        messages = [msg for group, _ in groups for msg in group]
        if not messages:
            return
        try:
            for msg in messages:
                await msg.ack()
            await messages[0]._client.flush(timeout=5)
        except Exception as exc:
            # The effect is committed and recorded in the inbox: a redelivery is a no-op.
            log.warning(
                "ack not confirmed; a redelivery will be recognised as a duplicate",
                consumer=self.consumer,
                events=len(messages),
                error=repr(exc),
            )
        for group, outcome in groups:
            if group:
                self._count(outcome, len(group))

    def _count(self, outcome: str, events: int = 1) -> None:
        EVENTS_HANDLED.labels(self.service, self.consumer, outcome).inc(events)
        tally = _outcomes.get()
        if tally is not None:
            tally[outcome] += events


def _deliveries(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


def _stream_seq(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:
        return None


def _trace_id(received: ReceivedEvent) -> str | None:
    traceparent = received.attributes.traceparent
    if traceparent and traceparent.count("-") >= 3:
        return traceparent.split("-")[1]
    return None


async def _quietly(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception as exc:  # the connection is gone: the server redelivers after ack_wait
        log.debug("could not nak", error=repr(exc))
