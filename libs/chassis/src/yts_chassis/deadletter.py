"""Dead letters: a message that can never be processed is published to ``YTS_DLQ`` with the
reason in headers, then terminated, so that the consumer keeps going and a person can look."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nats.aio.msg import Msg

from yts_chassis.logs import get_logger
from yts_chassis.outbox import JetStreamPublisher

log = get_logger(__name__)

DLQ_PREFIX = "yts.dlq"
H_REASON = "yts-dlq-reason"
H_CONSUMER = "yts-dlq-consumer"
H_ORIGINAL_SUBJECT = "yts-dlq-original-subject"
H_STREAM = "yts-dlq-stream"
H_STREAM_SEQ = "yts-dlq-stream-seq"
H_DELIVERIES = "yts-dlq-deliveries"


def dlq_subject(service: str, original_subject: str) -> str:
    return f"{DLQ_PREFIX}.{service}.{original_subject}"


class DeadLetters:
    def __init__(
        self, service: str, publisher_factory: Callable[[], JetStreamPublisher | None]
    ) -> None:
        self.service = service
        self.publisher_factory = publisher_factory

    async def send(self, msg: Msg, consumer: str, reason: str) -> None:
        """Publish the message to the DLQ (awaiting the PubAck), then terminate it.

        Raises when the DLQ publish fails: the caller naks, so nothing is lost."""
        publisher = self.publisher_factory()
        if publisher is None:
            raise ConnectionError("not connected to NATS")
        meta = _metadata(msg)
        headers: dict[str, Any] = dict(msg.headers or {})
        stream = meta.stream if meta else ""
        stream_seq = str(meta.sequence.stream) if meta else ""
        headers.update(
            {
                H_REASON: reason[:4000],
                H_CONSUMER: consumer,
                H_ORIGINAL_SUBJECT: msg.subject,
                H_STREAM: stream,
                H_STREAM_SEQ: stream_seq,
                H_DELIVERIES: str(meta.num_delivered) if meta else "",
                # Dead-lettering the same message twice stores it once.
                "Nats-Msg-Id": f"dlq:{consumer}:{stream}:{stream_seq or headers.get('ce-id', '')}",
            }
        )
        await publisher.publish(dlq_subject(self.service, msg.subject), msg.data, headers=headers)
        await msg.term()
        log.warning(
            "event dead-lettered",
            consumer=consumer,
            subject=msg.subject,
            stream_seq=stream_seq,
            reason=reason,
        )


def _metadata(msg: Msg) -> Any:
    try:
        return msg.metadata
    except Exception:  # not a JetStream message (a test publishing on core NATS)
        return None
