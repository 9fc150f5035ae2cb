"""What a durable consumer is. Each service declares its own in its ``subscriptions.py`` (the
one place that lists what it listens to) and binds its subscribers to them by name, never
creating or updating them; provisioning creates them from the operator's list of every
service's consumers (``yts_deploy.topology``), which a test keeps equal to the services'."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DurableConsumer:
    service: str
    durable: str
    stream: str
    filter_subject: str
    description: str
    # Short, so that a crashed replica's messages are redelivered soon; handlers send
    # in-progress heartbeats while a long batch is applied (see consumer.EventConsumer).
    ack_wait_seconds: float = 15.0
    max_ack_pending: int = 2000
