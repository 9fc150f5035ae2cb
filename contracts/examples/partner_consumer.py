"""A partner reading the Young Trainers' School events from its own durable consumer.

    pip install nats-py yts-contracts
    python partner_consumer.py --url nats://nats.example.org:4222 --user partner-unesco \\
        --password ... --inbox-prefix _INBOX_partner-unesco --stream YTS_SESSIONS \\
        --durable partner-unesco-sessions

Every option may also come from the environment: YTS_PARTNER_NATS_URL, YTS_PARTNER_NATS_USER,
YTS_PARTNER_NATS_PASSWORD, YTS_PARTNER_INBOX_PREFIX, YTS_PARTNER_STREAM, YTS_PARTNER_DURABLE.

The programme staff create the partner's durable pull consumer; a partner account may not create
consumers, so this script only binds to it by name. It fetches in batches, checks each message
against the contracts, prints one line per event and acknowledges it (waiting for the server's
confirmation). A message that breaks the contract is reported and terminated so that it is not
redelivered forever. Stop with Ctrl-C; the consumer remembers where it stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys

import nats
from nats.errors import TimeoutError as FetchTimeout
from yts_contracts import CATALOG, ContractViolation, from_nats


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
    args = parser.parse_args()
    if not args.durable:
        parser.error("--durable (or YTS_PARTNER_DURABLE) is required: the consumer's name")
    return args


async def main() -> None:
    args = options()
    nc = await nats.connect(
        args.url,
        user=args.user,
        password=args.password,
        inbox_prefix=args.inbox_prefix,
        name=f"partner:{args.durable}",
    )
    js = nc.jetstream()
    # Bind only: never create or update the consumer (the account is not allowed to).
    subscription = await js.pull_subscribe_bind(durable=args.durable, stream=args.stream)
    # Only public events are expected here; anything else is refused as a contract violation.
    public_events = CATALOG.public()
    print(f"reading {args.stream} through {args.durable}; Ctrl-C to stop", file=sys.stderr)
    try:
        while True:
            try:
                messages = await subscription.fetch(args.batch, timeout=5)
            except FetchTimeout:
                continue  # nothing new yet
            for msg in messages:
                try:
                    event = from_nats(msg.subject, msg.headers, msg.data, public_events)
                except ContractViolation as violation:
                    # Never processable as it is (an unknown type may need a newer yts-contracts).
                    print(f"skipped {msg.subject}: {violation.reason}", file=sys.stderr)
                    await msg.term()
                    continue
                attributes = event.attributes
                print(
                    f"{attributes.time.isoformat()} {attributes.type} "
                    f"subject={attributes.subject} id={attributes.id} "
                    f"{event.data.model_dump_json()}"
                )
                await msg.ack_sync()
    finally:
        # Every processed message is already acknowledged; anything fetched but not yet
        # acknowledged is redelivered after the consumer's ack wait.
        await nc.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
