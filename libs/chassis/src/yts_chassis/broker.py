"""The FastStream NATS broker and durable pull subscriptions with a deliberate ack policy.

Subscribers bind to consumers that provisioning created (``yts provision``); they never declare
streams (``declare=False``) because ``JStream`` would otherwise *update* a stream whose settings
differ, rewriting production retention or replicas.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from faststream import AckPolicy, Context
from faststream.message import StreamMessage
from faststream.nats import (
    JStream,
    NatsBroker,
    NatsMessage,
    NatsRouter,
    NatsUserPassword,
    PullSub,
)
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from nats.js.errors import ServiceUnavailableError

from yts_chassis.logs import get_logger
from yts_chassis.settings import ServiceSettings
from yts_chassis.topology import DurableConsumer

log = get_logger(__name__)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]


def make_broker(settings: ServiceSettings, **extra: Any) -> NatsBroker:
    options: dict[str, Any] = {
        "servers": settings.nats_servers,
        "name": f"yts-{settings.service_name}",
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 1,
        "connect_timeout": 2,
        # On shutdown, wait this long for handlers already running to finish.
        "graceful_timeout": 10.0,
        "inbox_prefix": settings.nats_inbox_prefix,
        # FastStream's per-message lines go through our logging at DEBUG: the chassis writes
        # one canonical line per handled event instead.
        "logger": logging.getLogger("faststream"),
        "log_level": logging.DEBUG,
    }
    if settings.nats_user:
        password = settings.nats_password.get_secret_value() if settings.nats_password else ""
        options["security"] = NatsUserPassword(username=settings.nats_user, password=password)
    options.update(extra)
    return NatsBroker(**options)


async def _keep_raw(message: StreamMessage[Any]) -> Any:
    # The chassis decodes and validates CloudEvents itself, so that a bad body is dead-lettered
    # instead of failing inside FastStream's JSON decoder.
    return None


def _on_each_pull_subscription(subscriber: Any, mark: str, change: Callable[[Any], None]) -> None:
    """Apply ``change`` to the subscriber's pull subscription as soon as it exists, once per
    subscription (FastStream makes a new one each time the subscriber starts)."""
    create = subscriber._create_subscription

    async def create_subscription() -> None:
        await create()
        pull = subscriber.subscription
        if pull is None or getattr(pull, mark, False):
            return
        change(pull)
        setattr(pull, mark, True)

    subscriber._create_subscription = create_subscription


def _fetch_timeouts_end_the_fetch(subscriber: Any) -> None:
    """Make a fetch whose deadline passed end the fetch, never the pull loop.

    FastStream 0.7.8's batch loop keeps fetching after a partial batch until its deadline, and
    catches only ``nats.errors.TimeoutError``; nats-py 2.16 raises a plain
    ``asyncio.TimeoutError`` when a short remaining deadline runs out. That escaped, the pull
    task restarted and the messages it had fetched stayed unacked until ``ack_wait``: events
    stalled for seconds at random. The subscription's ``fetch`` is wrapped as soon as it
    exists, so both kinds of timeout mean "no more messages now".
    """

    def wrap(pull: Any) -> None:
        fetch = pull.fetch

        async def fetch_until_deadline(*args: Any, **kwargs: Any) -> list[Msg]:
            try:
                return await fetch(*args, **kwargs)
            except NatsTimeoutError:
                raise
            except TimeoutError as timeout:
                raise NatsTimeoutError from timeout

        pull.fetch = fetch_until_deadline

    _on_each_pull_subscription(subscriber, "_yts_timeouts_wrapped", wrap)


def _one_fetch_per_batch(subscriber: Any, batch_size: int, wait: float) -> None:
    """Hand each fetch to the handler as it comes: a batch never waits to fill.

    FastStream 0.7.8's batch loop fetches again after a partial batch until the batch is full
    or its deadline passes, so a live event waited up to the whole deadline in the client.
    One fetch already returns as soon as nothing more is pending (nats-py asks the server with
    ``no_wait``): when events are waiting it brings up to ``batch_size`` of them at once, and
    when none is, it waits up to ``wait`` for the first one and returns with it. A backlog
    still comes in full batches, since it piles up while the previous batch is applied.
    """

    async def consume_what_is_pending() -> None:
        while subscriber.running:
            try:
                messages = await subscriber.subscription.fetch(batch=batch_size, timeout=wait)
            except TimeoutError:  # nats' and asyncio's alike: nothing came
                continue
            except (ConnectionClosedError, ServiceUnavailableError):
                # Unprocessed messages stay unacknowledged for the server to redeliver.
                await asyncio.sleep(min(wait, 1.0))
                continue
            if messages and subscriber.running:
                await subscriber.consume(messages)

    subscriber._consume_pull = consume_what_is_pending


class _Taken:
    """Messages delivered to a pull subscription and not yet given to its handler."""

    def __init__(self) -> None:
        self._messages: dict[int, Msg] = {}

    def delivered(self, msg: Msg) -> None:
        if msg.reply and not JetStreamContext.is_status_msg(msg):
            self._messages[id(msg)] = msg

    def handed_over(self, messages: Sequence[Msg]) -> None:
        for msg in messages:
            self._messages.pop(id(msg), None)

    def take_all(self) -> list[Msg]:
        left = list(self._messages.values())
        self._messages.clear()
        return left


def _what_stop_leaves_goes_back_at_once(subscriber: Any, taken: _Taken, durable: str) -> None:
    """Nak, when the subscriber stops, the messages it was delivered and will never handle.

    FastStream's stop lets the handlers in flight finish, then cancels the pull loop: messages
    a fetch had collected (nats-py keeps a batch in the fetch until it is full or its deadline
    passes), a batch still filling in FastStream's loop, or messages waiting in the
    subscription's queue are dropped without a word, and the server would hand them to the
    next instance only after ``ack_wait``. They were never given to a handler, so they go
    back at once. Every message the server delivers to the subscription is noted as it
    arrives (whatever holds it afterwards), and forgotten when the handler gets it; the
    subscription ends at the server before it ends here, so nothing is in flight unnoted.
    """

    def note_deliveries(pull: Any) -> None:
        queue = pull._sub._pending_queue
        put = queue.put_nowait

        def put_and_note(msg: Msg) -> None:
            put(msg)
            taken.delivered(msg)

        queue.put_nowait = put_and_note
        unsubscribe = pull.unsubscribe

        async def unsubscribe_once_the_server_stopped_sending() -> None:
            # Interest ends at the server first, while the subscription still takes what
            # arrives: a message sent for a pull request before the server saw the UNSUB
            # comes before the PONG, lands in the queue and is noted, instead of being
            # dropped by a client that has already forgotten the subscription.
            try:
                await pull._nc._send_unsubscribe(pull._sub._id)
                await pull._nc.flush(timeout=2)
            except Exception as exc:
                log.debug("unsubscribe before stop", error=repr(exc))
            await unsubscribe()

        pull.unsubscribe = unsubscribe_once_the_server_stopped_sending

    _on_each_pull_subscription(subscriber, "_yts_deliveries_noted", note_deliveries)

    stop = subscriber.stop

    async def stop_and_hand_back() -> None:
        await stop()
        left = taken.take_all()
        if not left:
            return
        results = await asyncio.gather(*(m.nak() for m in left), return_exceptions=True)
        try:
            await left[0]._client.flush(timeout=2)  # sent now, before the connection closes
        except Exception as exc:
            log.debug("flush after handing back", error=repr(exc))
        log.info(
            "messages delivered but not handled before the stop were handed back",
            consumer=durable,
            messages=len(left),
            failed=sum(1 for r in results if isinstance(r, BaseException)),
        )

    subscriber.stop = stop_and_hand_back


def durable_subscriber(
    router: NatsRouter,
    consumer: DurableConsumer,
    *,
    inbox_prefix: str = "_INBOX",
    batch_size: int = 1,
    batch_timeout: float = 0.2,
) -> Callable[[Callable[[Sequence[Msg]], Awaitable[None]]], Any]:
    """Decorate ``async def f(messages: Sequence[Msg])`` as the subscriber bound to ``consumer``.

    ``batch_size > 1`` uses ``PullSub(batch=True)``: one list per fetch, applied in order in one
    transaction (for projections); a fetch brings what is pending, up to ``batch_size``, or
    waits up to ``batch_timeout`` for the first event when none is (``_one_fetch_per_batch``).
    ``batch_size == 1`` takes one message per fetch, in order.
    Non-batch pulls with a larger batch run concurrently (no order), and ``max_workers > 1``
    over-fetches, so neither is offered here.

    ``inbox_prefix`` is the service's own (``settings.nats_inbox_prefix``): pulled messages are
    delivered under it, so a service's NATS user needs no subscription on the shared
    ``_INBOX.>`` where it could read other clients' replies.
    """
    pull_sub = (
        PullSub(batch_size=batch_size, timeout=batch_timeout, batch=True)
        if batch_size > 1
        else PullSub(batch_size=1, timeout=5.0)
    )
    config = ConsumerConfig(durable_name=consumer.durable)

    def register(handler: Callable[[Sequence[Msg]], Awaitable[None]]) -> Any:
        taken = _Taken()
        if batch_size > 1:

            async def on_batch(body: Any, message: BatchMessage) -> None:
                taken.handed_over(message.raw_message)
                await handler(message.raw_message)

            target: Callable[..., Awaitable[None]] = on_batch
        else:

            async def on_message(body: Any, message: NatsMessage) -> None:
                taken.handed_over([message.raw_message])
                await handler([message.raw_message])

            target = on_message
        target.__name__ = handler.__name__
        target.__doc__ = handler.__doc__
        subscriber = router.subscriber(
            consumer.filter_subject,
            stream=JStream(consumer.stream, declare=False),
            durable=consumer.durable,
            config=config,
            pull_sub=pull_sub,
            inbox_prefix=f"{inbox_prefix.rstrip('.')}.".encode(),
            ack_policy=AckPolicy.MANUAL,
            decoder=_keep_raw,
            description=consumer.description,
        )
        _fetch_timeouts_end_the_fetch(subscriber)
        if batch_size > 1:
            _one_fetch_per_batch(subscriber, batch_size, batch_timeout)
        _what_stop_leaves_goes_back_at_once(subscriber, taken, consumer.durable)
        return subscriber(target)

    return register
