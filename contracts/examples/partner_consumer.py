"""A partner reading the Young Trainers' School events from its own durable consumer.

Install and run it from the onboarding kit programme staff hand you (`yts partners add`):

    python -m venv .venv && .venv/bin/pip install nats-py ./yts_contracts-*.whl
    set -a; . ./partner.env; .venv/bin/python partner_consumer.py

Every option may also come from the environment (partner.env sets them): YTS_PARTNER_NATS_URL,
YTS_PARTNER_NATS_USER, YTS_PARTNER_NATS_PASSWORD, YTS_PARTNER_INBOX_PREFIX, YTS_PARTNER_STREAM,
YTS_PARTNER_DURABLE, YTS_PARTNER_FETCH_TIMEOUT. See `--help`.

Programme staff create your durable pull consumer; your account may not create consumers, so
this script only binds to it by name. It fetches in batches, checks each message against the
contracts, prints one line per event and acknowledges it (waiting for the server's
confirmation). A message that breaks the contract is reported and terminated so that it is not
redelivered forever. If the server goes away, it reconnects and goes on; after about ten minutes
without a server it exits with code 1. A refused user or password, or a stream or consumer that
is not yours, ends it at once with code 2 and one line saying why. Stop it with Ctrl-C (exit code
0); your consumer remembers where you stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.errors import AuthorizationError
from nats.js.errors import NotFoundError
from yts_contracts import CATALOG, ContractViolation, from_nats

T = TypeVar("T")
RECONNECT_WAIT = 2  # seconds between attempts while the server is away
RECONNECT_ATTEMPTS = 300  # about ten minutes; then exit, for a supervisor to restart it
REFUSED = 2  # exit code: trying again cannot help (credentials, stream or consumer)
UNREACHABLE = 1  # exit code: no server answered


class Stop(Exception):
    """Why the consumer stops by itself: one line for whoever runs it, and an exit code."""

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.exit_code = exit_code


def options() -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="Read Young Trainers' School events.")
    parser.add_argument("--url", default=env("YTS_PARTNER_NATS_URL", "nats://localhost:4222"))
    parser.add_argument("--user", default=env("YTS_PARTNER_NATS_USER"))
    parser.add_argument("--password", default=env("YTS_PARTNER_NATS_PASSWORD"))
    parser.add_argument(
        "--inbox-prefix",
        default=env("YTS_PARTNER_INBOX_PREFIX", "_INBOX"),
        help="the inbox prefix the partner account may subscribe to",
    )
    parser.add_argument("--stream", default=env("YTS_PARTNER_STREAM", "YTS_SESSIONS"))
    parser.add_argument("--durable", default=env("YTS_PARTNER_DURABLE"))
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument(
        "--fetch-timeout",
        type=float,
        default=float(env("YTS_PARTNER_FETCH_TIMEOUT", "5")),
        help="seconds one fetch waits for new events before asking again",
    )
    args = parser.parse_args()
    if not args.durable:
        parser.error("--durable (or YTS_PARTNER_DURABLE) is required: the consumer's name")
    return args


class Connection:
    """A NATS connection whose troubles become decisions: a refusal stops the consumer at once,
    a lost server is waited for (nats-py reconnects by itself), and no traceback is printed."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.nc = Client()
        self.connected = False
        self.stopped: asyncio.Future[Stop] = asyncio.get_running_loop().create_future()

    async def open(self) -> Client:
        await self.unless_stopped(
            self.nc.connect(
                self.args.url,
                user=self.args.user,
                password=self.args.password,
                inbox_prefix=self.args.inbox_prefix,
                name=f"partner:{self.args.durable}",
                error_cb=self.on_error,
                disconnected_cb=self.on_disconnected,
                reconnected_cb=self.on_reconnected,
                closed_cb=self.on_closed,
                connect_timeout=5,
                reconnect_time_wait=RECONNECT_WAIT,
                max_reconnect_attempts=RECONNECT_ATTEMPTS,
            )
        )
        self.connected = True
        return self.nc

    async def close(self) -> None:
        self.connected = False
        # Everything processed is acknowledged already: do not let a slow goodbye hold Ctrl-C.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.nc.close(), timeout=5)

    def stop(self, reason: str, exit_code: int) -> None:
        if not self.stopped.done():
            self.stopped.set_result(Stop(reason, exit_code))

    async def unless_stopped(self, work: Awaitable[T]) -> T:
        """The result of ``work``, unless the connection gives up first: then raise Stop."""
        task = asyncio.ensure_future(work)
        either: set[asyncio.Future[Any]] = {task, self.stopped}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                # Let it end before anything closes the connection, and drop what it ends with.
                await asyncio.wait({task})
                if not task.cancelled():
                    task.exception()
        if self.stopped.done():
            raise self.stopped.result()
        return task.result()

    def refused(self, error: Exception | None) -> bool:
        return isinstance(error, AuthorizationError) or (
            "authorization violation" in str(error).lower()
        )

    def refusal(self) -> str:
        return (
            f"the server refused user {self.args.user!r}: wrong user or password "
            "(programme staff can give you a new one: yts partners rotate)"
        )

    async def on_error(self, error: Exception) -> None:
        reason = str(error) or type(error).__name__
        if self.refused(error):
            self.stop(self.refusal(), REFUSED)
        elif "permissions violation" in reason.lower():
            self.stop(
                f"{reason}: check the stream and consumer you were given "
                f"({self.args.stream}, {self.args.durable})",
                REFUSED,
            )
        elif not self.connected:
            self.stop(f"cannot connect to {self.args.url}: {reason}", UNREACHABLE)
        # Otherwise the server is away and nats-py tries again; on_disconnected said so.

    async def on_disconnected(self) -> None:
        if self.connected:
            print(f"lost {self.args.url}; reconnecting every {RECONNECT_WAIT} s", file=sys.stderr)

    async def on_reconnected(self) -> None:
        print(f"reconnected to {self.args.url}", file=sys.stderr)

    async def on_closed(self) -> None:
        # A server that re-read its users and no longer knows ours closes the connection.
        if self.refused(self.nc.last_error):
            self.stop(self.refusal(), REFUSED)
        minutes = RECONNECT_WAIT * RECONNECT_ATTEMPTS // 60
        self.stop(f"gave up: no answer from {self.args.url} for {minutes} minutes", UNREACHABLE)


async def read_events(args: argparse.Namespace) -> None:
    connection = Connection(args)
    nc = await connection.open()
    try:
        js = nc.jetstream()
        # Bind only: never create or update the consumer (the account is not allowed to).
        subscription = await js.pull_subscribe_bind(durable=args.durable, stream=args.stream)
        try:
            await connection.unless_stopped(subscription.consumer_info())
        except NotFoundError:
            reason = f"no consumer {args.durable} on {args.stream}: ask programme staff"
            raise Stop(reason, REFUSED) from None
        # Only public events are expected here; anything else is refused as a contract violation.
        public_events = CATALOG.public()
        print(f"reading {args.stream} through {args.durable}; Ctrl-C to stop", file=sys.stderr)
        while True:
            try:
                messages = await connection.unless_stopped(
                    subscription.fetch(args.batch, timeout=args.fetch_timeout)
                )
            except TimeoutError:
                # Nothing new yet. nats-py raises its own TimeoutError or asyncio's plain one;
                # both are TimeoutError (Python 3.11+, which yts-contracts requires).
                continue
            for msg in messages:
                try:
                    event = from_nats(msg.subject, msg.headers, msg.data, public_events)
                except ContractViolation as violation:
                    # Never processable as it is (an unknown type may need a newer yts-contracts).
                    print(f"skipped {msg.subject}: {violation.reason}", file=sys.stderr)
                    await msg.term()
                    continue
                attributes = event.attributes
                # Store the event keyed by attributes.id (a redelivery repeats the id) ...
                print(
                    f"{attributes.time.isoformat()} {attributes.type} "
                    f"subject={attributes.subject} id={attributes.id} "
                    f"{event.data.model_dump_json()}",
                    flush=True,
                )
                try:
                    await msg.ack_sync()  # ... then acknowledge it: not before
                except TimeoutError:
                    # The server was away: the event comes again after the consumer's ack wait.
                    print(f"unconfirmed acknowledgement of {attributes.id}", file=sys.stderr)
    finally:
        # Every processed message is already acknowledged; anything fetched but not yet
        # acknowledged is redelivered after the consumer's ack wait.
        await connection.close()


def main() -> int:
    args = options()
    try:
        asyncio.run(read_events(args))
    except KeyboardInterrupt:
        return 0  # Ctrl-C: the consumer remembers what was acknowledged
    except Stop as stop:
        print(f"partner_consumer: {stop}", file=sys.stderr)
        return stop.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
