from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from yts_notifications.domain import IPAddress, ip_literal
from yts_notifications.egress import Resolver
from yts_notifications.main import create_app
from yts_notifications.settings import NotificationsSettings

from tests.support.notifications_mailbox import MailBox, ReceivedMail
from tests.support.notifications_partner import Partner, Receipt
from tests.support.services import running, settings_for

# Short delays so that retries happen within a test; nothing asserts on durations.
FAST: dict[str, Any] = {
    "allow_insecure_loopback_webhooks": True,
    "mail_backoff_base_seconds": 0.1,
    "mail_backoff_max_seconds": 0.3,
    "mail_max_attempts": 3,
    "webhook_retry_schedule_seconds": [0.1, 0.2],  # three attempts
    "delivery_lease_margin_seconds": 1.0,
    "webhook_timeout_seconds": 2.0,
    "smtp_timeout_seconds": 5.0,
    # Long on purpose: a contact's arrival must wake a waiting mail by itself.
    "recipient_recheck_seconds": 60.0,
    "summary_check_seconds": 0.2,
}

StartNotifications = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
T = TypeVar("T")


async def deliveries(client: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """``GET /v1/deliveries`` with ``filters``: the items of one large page."""
    response = await client.get("/v1/deliveries", params={"limit": 500, **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# Checks for ``eventually``: the items once there are ``count`` of them, else None.


async def at_least(items: list[T], count: int = 1) -> list[T] | None:
    return items if len(items) >= count else None


async def mails_to(mailbox: MailBox, email: str, count: int = 1) -> list[ReceivedMail] | None:
    return await at_least(mailbox.to(email), count)


async def receipts_about(partner: Partner, needle: str, count: int = 1) -> list[Receipt] | None:
    return await at_least(partner.about(needle), count)


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float | None:
    """The value of one sample on ``/metrics``, None when it is not there."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def resolving(names: dict[str, list[str]] | None = None) -> Resolver:
    """A resolver that knows ``names`` only: the tests never ask real DNS. An address given as
    the host is its own answer, as with the system's resolver."""
    known = names or {}

    async def resolve(host: str, port: int) -> list[IPAddress]:
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        if host not in known:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not a name of this test")
        return [ipaddress.ip_address(address) for address in known[host]]

    return resolve


@dataclass
class Listener:
    """A TCP port on loopback that counts the connections made to it and answers nothing."""

    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    counted = Listener()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counted.connections.append(writer.get_extra_info("peername"))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    counted.port = server.sockets[0].getsockname()[1]
    async with server:
        yield counted


@pytest.fixture
def mailbox() -> Iterator[MailBox]:
    box = MailBox().start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
async def partners() -> AsyncIterator[Callable[[str], Any]]:
    """``await partners(name)`` -> a started webhook receiver on its own loopback port."""
    started: list[Partner] = []

    async def make(name: str) -> Partner:
        partner = await Partner(name).start()
        started.append(partner)
        return partner

    yield make
    for partner in started:
        await partner.stop()


def notifications_settings(
    nats_url: str, database_url: str, mailbox: MailBox, **overrides: Any
) -> NotificationsSettings:
    options = {**FAST, "smtp_port": mailbox.port, **overrides}
    settings: NotificationsSettings = settings_for(
        NotificationsSettings, nats_url=nats_url, database_url=database_url, **options
    )
    return settings


@pytest.fixture
def start_notifications(
    provisioned: str, database_factory: Any, mailbox: MailBox
) -> StartNotifications:
    """``async with start_notifications(**settings) as client``: the real app on the real
    broker and a fresh database; ``database_url=`` reuses one (a restart); ``resolver=``
    answers for webhook hosts (by default only addresses are known, no name)."""

    @asynccontextmanager
    async def start(
        *,
        clock: Callable[[], datetime] | None = None,
        database_url: str | None = None,
        resolver: Resolver | None = None,
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        url = database_url or await database_factory("notifications")
        settings = notifications_settings(provisioned, url, mailbox, **overrides)
        resolver = resolver or resolving()
        app = (
            create_app(settings, clock=clock, resolver=resolver)
            if clock
            else create_app(settings, resolver=resolver)
        )
        async with running(app) as client:
            client.app = app  # type: ignore[attr-defined]
            client.database_url = url  # type: ignore[attr-defined]
            yield client

    return start


@pytest.fixture
async def notifications(
    start_notifications: StartNotifications,
) -> AsyncIterator[httpx.AsyncClient]:
    async with start_notifications() as client:
        yield client
