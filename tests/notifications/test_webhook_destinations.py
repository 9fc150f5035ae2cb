"""Webhooks go to public addresses only. A URL naming a non-public address, in any spelling a
resolver accepts, is refused at subscription without a connection; a DNS name is accepted there
and judged again at every connection on the addresses it resolves to then (DNS rebinding), and
the connection goes to an address so checked. Loopback is reachable only with the development
setting. Every name here is resolved by the test's own resolver, every connection is on
loopback."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nats.js.client import JetStreamContext
from yts_notifications.domain import LOOPBACK_SETTING, IPAddress
from yts_notifications.webhooks import WebhookOut, WebhookSender, new_secret

from tests.notifications.conftest import Listener, StartNotifications, resolving
from tests.notifications.test_webhooks import TRAINER_ENROLLED, delivery_of, enrol_someone
from tests.support.notifications_partner import Partner

VALID = {"partner": "UNESCO Almaty", "event_types": ["yts.milestones.>"]}
REFUSED_AT_CONNECT = "destination resolves to a non-public address: partner.test is "

# {port} is the port of a listener on 127.0.0.1 that counts connections: none may come.
LOOPBACK_SPELLINGS = [
    "https://127.0.0.1:{port}/hooks",
    "https://localhost:{port}/hooks",
    "https://hooks.localhost:{port}/hooks",
    "https://[::1]:{port}/hooks",
    "https://2130706433:{port}/hooks",
    "https://0x7f000001:{port}/hooks",
    "https://0177.0.0.1:{port}/hooks",
    "https://127.1:{port}/hooks",
    "https://[::ffff:127.0.0.1]:{port}/hooks",
]
OTHER_NON_PUBLIC = [
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://[fe80::1]/hooks", "link-local"),
    ("https://0.0.0.0:{port}/hooks", "unspecified"),
    ("https://[::]:{port}/hooks", "unspecified"),
    ("https://10.0.0.7/hooks", "private"),
    ("https://10.1/hooks", "private"),
    ("https://172.16.0.1/hooks", "private"),
    ("https://172.31.255.254/hooks", "private"),
    ("https://192.168.1.1/hooks", "private"),
    ("https://[fd12:3456::1]/hooks", "private"),
    ("https://[::ffff:10.0.0.1]/hooks", "private"),
    ("https://100.64.0.1/hooks", "shared or special-purpose"),
    ("https://224.0.0.251/hooks", "multicast"),
    ("https://[ff02::1]/hooks", "multicast"),
    ("https://240.0.0.1/hooks", "reserved"),
]


async def refused_without_connecting(
    start_notifications: StartNotifications,
    listener: Listener,
    url: str,
    *,
    development: bool,
) -> dict[str, Any]:
    """POST the subscription; assert the 422 names ``url``, that nothing was resolved,
    connected or stored; return the error about the URL."""
    resolved: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        resolved.append(host)
        return []

    async with start_notifications(
        allow_insecure_loopback_webhooks=development, resolver=resolver
    ) as client:
        response = await client.post("/v1/webhook-subscriptions", json={**VALID, "url": url})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        (error,) = problem["errors"]
        assert error["field"] == "url"
        assert "url" in problem["detail"]
        assert (await client.get("/v1/webhook-subscriptions")).json()["total"] == 0
    assert resolved == []
    assert listener.connections == []
    found: dict[str, Any] = error
    return found


@pytest.mark.parametrize("spelling", [*LOOPBACK_SPELLINGS, "http://127.0.0.1:{port}/hooks"])
async def test_loopback_in_any_spelling_needs_the_development_setting_which_the_refusal_names(
    start_notifications: StartNotifications, listener: Listener, spelling: str
) -> None:
    url = spelling.format(port=listener.port)
    error = await refused_without_connecting(start_notifications, listener, url, development=False)
    plain = url.startswith("http://")
    assert error["rule"] == ("https_required" if plain else "public_destination")
    assert f"{LOOPBACK_SETTING}=true" in error["message"]


@pytest.mark.parametrize("development", [False, True])
@pytest.mark.parametrize(("spelling", "kind"), OTHER_NON_PUBLIC)
async def test_other_non_public_addresses_are_refused_even_in_development(
    start_notifications: StartNotifications,
    listener: Listener,
    spelling: str,
    kind: str,
    development: bool,
) -> None:
    url = spelling.format(port=listener.port)
    error = await refused_without_connecting(
        start_notifications, listener, url, development=development
    )
    assert error["rule"] == "public_destination"
    assert f"is not a public address ({kind})" in error["message"]


async def test_a_name_that_resolves_to_loopback_is_refused_when_sending_and_not_retried(
    start_notifications: StartNotifications, js: JetStreamContext, listener: Listener
) -> None:
    resolver = resolving({"partner.test": ["127.0.0.1"]})
    async with start_notifications(
        allow_insecure_loopback_webhooks=False, resolver=resolver
    ) as client:
        # A DNS name says nothing at subscription: it is accepted...
        created = await client.post(
            "/v1/webhook-subscriptions",
            json={
                "partner": "rebinder",
                "url": f"https://partner.test:{listener.port}/hooks",
                "event_types": [TRAINER_ENROLLED],
            },
        )
        assert created.status_code == 201, created.text
        event_id, _ = await enrol_someone(js)

        # ... and refused when its address is known, once, with the reason and no connection.
        failed = await delivery_of(client, created.json(), event_id, "failed")
    reason = REFUSED_AT_CONNECT + "127.0.0.1 (loopback)"
    assert failed["last_result"] == reason
    assert failed["attempts"] == 1
    assert [(a["outcome"], a["http_status"], a["error"]) for a in failed["attempt_log"]] == [
        ("failed", None, reason)
    ]
    assert listener.connections == []


def webhook_to(url: str) -> WebhookOut:
    return WebhookOut(
        url=url, body='{"id":"test"}', secret=new_secret(), webhook_id=f"msg_{uuid.uuid4().hex}"
    )


async def send(out: WebhookOut, names: dict[str, list[str]], *, allow_loopback: bool) -> Any:
    sender = WebhookSender(2.0, allow_loopback=allow_loopback, resolver=resolving(names))
    try:
        return await sender.send(out)
    finally:
        await sender.aclose()


@pytest.mark.parametrize(
    ("addresses", "allow_loopback", "refused"),
    [
        (["127.0.0.1"], False, "127.0.0.1 (loopback)"),
        (["::1"], False, "::1 (loopback)"),
        # Every address is judged, not only the first: a connection may go to any of them.
        (["127.0.0.1", "10.0.0.5"], True, "10.0.0.5 (private)"),
        (["127.0.0.1", "169.254.169.254"], True, "169.254.169.254 (link-local)"),
    ],
)
async def test_the_sender_refuses_a_name_resolving_to_a_refused_address_without_connecting(
    listener: Listener, addresses: list[str], allow_loopback: bool, refused: str
) -> None:
    out = webhook_to(f"http://partner.test:{listener.port}/hooks")
    verdict = await send(out, {"partner.test": addresses}, allow_loopback=allow_loopback)
    assert (verdict.outcome, verdict.result) == ("failed", REFUSED_AT_CONNECT + refused)
    assert verdict.http_status is None
    assert listener.connections == []


async def test_with_loopback_allowed_the_sender_connects_to_the_address_it_checked(
    partners: Any,
) -> None:
    receiver: Partner = await partners("dev")
    url = f"http://partner.test:{receiver.port}/hooks/dev"
    out = webhook_to(url)
    verdict = await send(out, {"partner.test": ["127.0.0.1"]}, allow_loopback=True)
    assert (verdict.outcome, verdict.http_status) == ("delivered", 200)
    (receipt,) = receiver.receipts
    # Connected by address, addressed by name: the Host header keeps the URL's host.
    assert receipt.headers["host"] == f"partner.test:{receiver.port}"
    assert receipt.verified(out.secret) == {"id": "test"}


async def test_a_name_that_does_not_resolve_is_retried_as_unreachable() -> None:
    verdict = await send(webhook_to("https://nowhere.test/hooks"), {}, allow_loopback=False)
    assert verdict.outcome == "retry"
    assert "nowhere.test could not be resolved" in verdict.result


async def test_a_connection_the_receiver_drops_is_still_an_httpx_error_retried_later(
    listener: Listener,
) -> None:
    # The listener closes at once: httpx still maps the network's errors to its own.
    out = webhook_to(f"http://127.0.0.1:{listener.port}/hooks")
    verdict = await send(out, {}, allow_loopback=True)
    assert verdict.outcome == "retry"
    assert verdict.result.startswith("connection failed: ")  # an httpx.HTTPError
    assert len(listener.connections) == 1
