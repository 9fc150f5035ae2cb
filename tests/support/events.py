"""Reading what really is in the streams (tests only)."""

from __future__ import annotations

import contextlib

from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext


async def stream_messages(
    js: JetStreamContext,
    stream: str,
    subject: str = ">",
    expected: int | None = None,
    timeout: float = 1.0,
    headers_only: bool = False,
) -> list[Msg]:
    """Every message of ``stream`` on ``subject`` (an ephemeral consumer from the start);
    ``headers_only`` leaves the bodies on the server (they may be huge)."""
    sub = await js.pull_subscribe(
        subject,
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0, headers_only=headers_only
        ),
    )
    messages: list[Msg] = []
    try:
        while expected is None or len(messages) < expected:
            try:
                batch = await sub.fetch(batch=500, timeout=timeout)
            except TimeoutError:
                break
            messages.extend(batch)
            for msg in batch:
                await msg.ack()
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return messages
