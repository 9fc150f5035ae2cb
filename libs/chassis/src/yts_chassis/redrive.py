"""A service's dead letters read back from ``YTS_DLQ`` (``yts.dlq.<service>.<subject>``, with
the reason in headers: ``deadletter.py``), and applied again once their fault is fixed (a
redrive).

A redrive applies the letter through the consumer that dead-lettered it, with that consumer's
own decoding, handlers and inbox (``EventConsumer.apply_again``), so an event applied before,
or redriven twice, changes nothing; the letter is then deleted from the stream. A letter that
still fails stays, with the new reason in the answer.

Reading walks the stream by sequence under the service's own subjects (a JetStream message
get, ``next_by_subj``), a page at a time: the DLQ is small by design (a person looks at every
letter), so no index is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from nats.js.api import RawStreamMsg
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from yts_contracts.envelope import H_ID, H_TYPE, ContractViolation
from yts_contracts.streams import DLQ_STREAM

from yts_chassis.consumer import EventConsumer, RejectEvent
from yts_chassis.database import is_transient
from yts_chassis.deadletter import (
    DLQ_PREFIX,
    H_CONSUMER,
    H_DELIVERIES,
    H_ORIGINAL_SUBJECT,
    H_REASON,
)
from yts_chassis.logs import get_logger
from yts_chassis.refusals import Breach, Conflict, NotFound

log = get_logger(__name__)


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as staff read it: what, from where, why; never the event's data."""

    seq: int
    consumer: str
    subject: str
    event_type: str | None
    event_id: str | None
    reason: str
    dead_lettered_at: datetime | None
    deliveries: int | None


@dataclass(frozen=True)
class Redriven:
    letter: DeadLetter
    outcome: str  # applied, duplicate (the inbox had it) or ignored (no handler wants it now)


class NatsAway(Exception):
    """Not connected to NATS: nothing can be read or redriven now."""


class DeadLetterShelf:
    """The dead letters of one service and the consumers that may apply them again."""

    def __init__(
        self,
        service: str,
        consumers: Mapping[str, EventConsumer],
        jetstream: Callable[[], JetStreamContext | None],
    ) -> None:
        self.service = service
        self.consumers = consumers
        self.jetstream = jetstream
        self.subjects = f"{DLQ_PREFIX}.{service}.>"

    def _js(self) -> JetStreamContext:
        js = self.jetstream()
        if js is None:
            raise NatsAway()
        return js

    async def page(self, after: int, limit: int) -> tuple[list[DeadLetter], int | None]:
        """Up to ``limit`` letters after stream sequence ``after``, oldest first, and the
        sequence to ask after for the next page (None at the end)."""
        js = self._js()
        letters: list[DeadLetter] = []
        seq = after
        while len(letters) < limit:
            try:
                raw = await js.get_msg(DLQ_STREAM, seq + 1, subject=self.subjects, next=True)
            except NotFoundError:
                return letters, None
            seq = int(raw.seq or seq + 1)
            letters.append(_letter(raw, seq))
        return letters, seq

    async def _read(self, seq: int) -> RawStreamMsg:
        """The letter at ``seq`` if it is this service's; NotFound otherwise (another
        service's letter is not this service's to show)."""
        try:
            raw = await self._js().get_msg(DLQ_STREAM, seq)
        except NotFoundError:
            raise NotFound("dead letter", seq) from None
        if not (raw.subject or "").startswith(f"{DLQ_PREFIX}.{self.service}."):
            raise NotFound("dead letter", seq)
        return raw

    async def redrive(self, seq: int) -> Redriven:
        """Apply the letter at ``seq`` again through its consumer, then delete it. Raises
        NotFound (no such letter of this service) or Conflict (it still fails: kept)."""
        raw = await self._read(seq)
        letter = _letter(raw, seq)
        consumer = self.consumers.get(letter.consumer)
        if consumer is None:
            raise Conflict(
                Breach(
                    "seq",
                    "consumer_unknown",
                    f"This service has no consumer {letter.consumer!r} to apply it with.",
                )
            )
        try:
            outcome = await consumer.apply_again(letter.subject, raw.headers, raw.data or b"")
        except ContractViolation as violation:
            raise Conflict(Breach("seq", "still_undecodable", violation.reason)) from None
        except RejectEvent as rejected:
            raise Conflict(Breach("seq", "still_rejected", rejected.reason)) from None
        except Exception as exc:
            if is_transient(exc):
                raise  # the database or NATS is away: try again later
            raise Conflict(Breach("seq", "still_failing", f"The handler failed: {exc!r}")) from None
        await self._js().delete_msg(DLQ_STREAM, seq)
        log.info(
            "dead letter redriven",
            consumer=letter.consumer,
            stream_seq=seq,
            event_id=letter.event_id,
            outcome=outcome,
        )
        return Redriven(letter, outcome)


def _letter(raw: RawStreamMsg, seq: int) -> DeadLetter:
    headers = raw.headers or {}
    deliveries = headers.get(H_DELIVERIES, "")
    prefix_length = len(DLQ_PREFIX) + 1
    fallback_subject = (raw.subject or "")[prefix_length:].partition(".")[2]
    return DeadLetter(
        seq=seq,
        consumer=headers.get(H_CONSUMER, ""),
        subject=headers.get(H_ORIGINAL_SUBJECT) or fallback_subject,
        event_type=headers.get(H_TYPE),
        event_id=headers.get(H_ID),
        reason=headers.get(H_REASON, ""),
        dead_lettered_at=raw.time,
        deliveries=int(deliveries) if deliveries.isdigit() else None,
    )
