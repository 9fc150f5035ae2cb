"""Webhooks to partners: the event as a structured CloudEvent (JSON), signed per the Standard
Webhooks spec with the ``standardwebhooks`` package, sent with httpx to public addresses only
(see ``egress``)."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook
from yts_contracts.envelope import format_time

from yts_notifications.domain import (
    Verdict,
    destination_refused,
    http_verdict,
    parse_retry_after,
    unreachable,
)
from yts_notifications.egress import (
    DestinationRefused,
    PublicOnlyNetwork,
    PublicOnlyTransport,
    Resolver,
    system_resolver,
)
from yts_notifications.store import StoredEvent

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
USER_AGENT = "yts-notifications/0.1 (Standard Webhooks)"


def new_secret() -> str:
    """A signing key in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def cloudevent(event: StoredEvent) -> dict[str, Any]:
    """The structured-mode CloudEvent: the same attributes the event carried on NATS."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.event_id,
        "source": event.source,
        "type": event.type,
        "time": format_time(event.time),
    }
    if event.subject is not None:
        body["subject"] = event.subject
    if event.dataschema is not None:
        body["dataschema"] = event.dataschema
    body["datacontenttype"] = "application/json"
    body["data"] = event.data
    return body


def cloudevent_body(event: StoredEvent) -> str:
    return json.dumps(cloudevent(event), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class WebhookOut:
    url: str
    body: str
    secret: str
    webhook_id: str


def signed_headers(out: WebhookOut, now: datetime | None = None) -> dict[str, str]:
    """``webhook-id`` (stable across attempts), ``webhook-timestamp`` (this attempt) and
    ``webhook-signature`` over both and the body."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    signature = Webhook(out.secret).sign(out.webhook_id, moment, out.body)
    return {
        "content-type": CONTENT_TYPE,
        "webhook-id": out.webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }


class WebhookSender:
    """``allow_loopback``: development's loopback receivers are reachable (other non-public
    addresses never are); ``resolver`` is swapped in tests, which resolve no real names."""

    def __init__(
        self,
        timeout_seconds: float,
        *,
        allow_loopback: bool,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.timeout = timeout_seconds
        network = PublicOnlyNetwork(resolver, allow_loopback=allow_loopback)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        # No redirects (the signed body must not wander), no proxies from the environment.
        self.client = httpx.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
            transport=PublicOnlyTransport(network, limits),
        )

    async def send(self, out: WebhookOut) -> Verdict:
        # The real clock: partners check the timestamp against theirs.
        headers = signed_headers(out)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    out.url, content=out.body.encode(), headers=headers
                )
        except DestinationRefused as refused:
            return destination_refused(str(refused))
        except (TimeoutError, httpx.TimeoutException):
            return unreachable(f"no answer within {self.timeout:g}s")
        except httpx.HTTPError as exc:
            return unreachable(f"connection failed: {type(exc).__name__}: {exc}")
        return http_verdict(
            response.status_code,
            response.reason_phrase,
            parse_retry_after(response.headers.get("retry-after")),
        )

    async def aclose(self) -> None:
        await self.client.aclose()
