"""Partner webhooks through the real broker to real HTTP receivers on loopback: subscriptions
and their rules, signed CloudEvents checked with the Standard Webhooks verifier, retries on
5xx and timeouts with the same webhook-id, no retry on 4xx, the failed state, the manual retry,
and a slow partner that delays nobody else."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from nats.js.client import JetStreamContext
from yts_chassis.auth import Role
from yts_chassis.ids import new_id
from yts_contracts.enrolment import TrainerEnrolled
from yts_notifications.domain import webhook_id

from tests.notifications.conftest import (
    StartNotifications,
    at_least,
    deliveries,
    mails_to,
    receipts_about,
)
from tests.support import notifications_events as ev
from tests.support.access import token_for
from tests.support.notifications_mailbox import MailBox
from tests.support.notifications_partner import Partner, Receipt
from tests.support.services import eventually

TRAINER_ENROLLED = TrainerEnrolled.event_type


async def subscribe(
    client: httpx.AsyncClient, partner: Partner, event_types: list[str]
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-subscriptions",
        json={"partner": partner.name, "url": partner.url, "event_types": event_types},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def delivery_of(
    client: httpx.AsyncClient, subscription: dict[str, Any], event_id: str, status: str
) -> dict[str, Any]:
    async def check() -> Any:
        found = await deliveries(client, subscription_id=subscription["id"], status=status)
        return [d for d in found if d["event_id"] == event_id]

    (delivery,) = await eventually(check)
    detail = await client.get(f"/v1/deliveries/{delivery['id']}")
    assert detail.status_code == 200
    result: dict[str, Any] = detail.json()
    return result


async def enrol_someone(js: JetStreamContext) -> tuple[str, uuid.UUID]:
    trainer_id = new_id()
    event_id = await ev.publish(js, ev.enrolled(trainer_id, new_id()))
    return event_id, trainer_id


async def test_subscription_secret_is_shown_once_and_signs_a_cloudevent_of_the_matching_events(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    centre: Partner = await partners("centre")
    subscription = await subscribe(notifications, centre, ["yts.enrolment.trainer.*.v1"])
    secret = subscription["secret"]
    assert secret.startswith("whsec_")
    listed = (await notifications.get("/v1/webhook-subscriptions")).json()
    mine = [s for s in listed["items"] if s["id"] == subscription["id"]]
    assert mine
    assert "secret" not in mine[0]
    assert mine[0]["event_types"] == ["yts.enrolment.trainer.*.v1"]

    cohort_event = await ev.publish(js, ev.cohort())
    event_id, trainer_id = await enrol_someone(js)

    (receipt,) = await eventually(lambda: receipts_about(centre, str(trainer_id)))
    body = receipt.verified(secret)
    assert receipt.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert receipt.webhook_id == webhook_id(event_id, uuid.UUID(subscription["id"]))
    assert body["specversion"] == "1.0"
    assert body["id"] == event_id
    assert body["type"] == TRAINER_ENROLLED
    assert body["source"] == "/yts/test"
    assert body["subject"] == str(trainer_id)
    assert body["dataschema"] == f"urn:yts:schema:{TRAINER_ENROLLED}"
    assert body["datacontenttype"] == "application/json"
    assert body["time"].endswith("Z")
    assert body["data"]["trainer_id"] == str(trainer_id)
    assert body["data"]["grade"] == 10
    # Another secret does not verify it.
    with pytest.raises(Exception, match="signature"):
        receipt.verified("whsec_" + "A" * 43 + "=")
    # The filter let the trainer event through, not the cohort.
    assert not centre.about(cohort_event)
    delivered = await delivery_of(notifications, subscription, event_id, "delivered")
    assert [(a["outcome"], a["http_status"]) for a in delivered["attempt_log"]] == [
        ("delivered", 200)
    ]
    assert delivered["partner"] == "centre"


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"url": "http://partner.example.org/hook"}, "url", "https_required"),
        ({"url": "ftp://partner.example.org/hook"}, "url", "url_scheme"),
        ({"url": "https://user:pw@partner.example.org/hook"}, "url", "url_credentials"),
        ({"event_types": ["yts.private.>"]}, "event_types.0", "public_events_only"),
        ({"event_types": [">"]}, "event_types.0", "public_events_only"),
        ({"event_types": ["yts.>"]}, "event_types.0", "public_events_only"),
        ({"event_types": ["yts.dlq.>"]}, "event_types.0", "public_events_only"),
        ({"event_types": ["yts.sessions.*"]}, "event_types.0", "matches_no_event"),
        ({"event_types": ["yts.sessions.sess*.>"]}, "event_types.0", "subject_syntax"),
        ({"event_types": ["yts.milestones.>", "yts..x"]}, "event_types.1", "subject_syntax"),
        ({"event_types": []}, "event_types", "too_short"),
        ({"partner": ""}, "partner", "string_too_short"),
    ],
)
async def test_bad_subscriptions_get_a_problem_naming_the_field_and_rule_and_store_nothing(
    start_notifications: StartNotifications, body: dict[str, Any], field: str, rule: str
) -> None:
    valid = {
        "partner": "UNESCO Almaty",
        "url": "https://partner.example.org/hook",
        "event_types": ["yts.milestones.>"],
    }
    async with start_notifications(allow_insecure_loopback_webhooks=False) as client:
        response = await client.post("/v1/webhook-subscriptions", json={**valid, **body})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
        assert field in problem["detail"]
        assert (await client.get("/v1/webhook-subscriptions")).json()["total"] == 0
        if body.get("url", "").startswith("http://"):
            loopback = await client.post(
                "/v1/webhook-subscriptions",
                json={**valid, "url": "http://127.0.0.1:9/hook"},
            )
            assert loopback.status_code == 422  # loopback needs the development setting


async def test_only_programme_staff_manage_webhooks_and_deliveries(
    start_notifications: StartNotifications, provisioned: str
) -> None:
    coordinator = await token_for(provisioned, Role.coordinator, new_id())
    partner = await token_for(provisioned, Role.partner)
    async with start_notifications() as client:
        for method, path in (
            ("POST", "/v1/webhook-subscriptions"),
            ("GET", "/v1/webhook-subscriptions"),
            ("DELETE", f"/v1/webhook-subscriptions/{new_id()}"),
            ("POST", f"/v1/webhook-subscriptions/{new_id()}/enable"),
            ("GET", "/v1/deliveries"),
            ("POST", f"/v1/deliveries/{new_id()}/retry"),
        ):
            anonymous = await client.request(method, path, headers={"Authorization": ""})
            assert anonymous.status_code == 401, (method, path)
            for token in (coordinator, partner):
                refused = await client.request(
                    method, path, headers={"Authorization": f"Bearer {token}"}
                )
                assert refused.status_code == 403, (method, path)
                assert refused.headers["content-type"] == "application/problem+json"


async def test_server_errors_and_timeouts_are_retried_with_the_same_webhook_id(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    flaky: Partner = await partners("flaky")
    trainer_id = new_id()

    async def server_error_then_slow_then_ok(receipt: Receipt) -> int:
        calls = len(flaky.about(str(trainer_id)))  # other tests' events answer 200
        if calls == 1:
            return 500
        if calls == 2:
            await asyncio.sleep(5)  # beyond the 2 s webhook timeout of the tests
        return 200

    flaky.respond_with(server_error_then_slow_then_ok)
    subscription = await subscribe(notifications, flaky, [TRAINER_ENROLLED])
    event_id = await ev.publish(js, ev.enrolled(trainer_id, new_id()))

    delivered = await delivery_of(notifications, subscription, event_id, "delivered")
    assert [(a["outcome"], a["http_status"]) for a in delivered["attempt_log"]] == [
        ("retry", 500),
        ("retry", None),
        ("delivered", 200),
    ]
    assert "no answer within 2s" in delivered["attempt_log"][1]["error"]
    # Each retried attempt says when the next one was due.
    assert [a["retry_at"] is not None for a in delivered["attempt_log"]] == [True, True, False]
    assert all(a["duration_ms"] is not None for a in delivered["attempt_log"])
    receipts = flaky.about(str(trainer_id))
    assert len(receipts) == 3
    assert {r.webhook_id for r in receipts} == {webhook_id(event_id, uuid.UUID(subscription["id"]))}
    for receipt in receipts:  # each attempt is signed afresh, each verifies
        assert receipt.verified(subscription["secret"])["id"] == event_id


async def test_a_client_error_fails_at_once_and_a_manual_retry_sends_it_again(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    strict: Partner = await partners("strict")
    trainer_id = new_id()

    async def refuse_the_first(receipt: Receipt) -> int:
        return 400 if len(strict.about(str(trainer_id))) == 1 else 200

    strict.respond_with(refuse_the_first)
    subscription = await subscribe(notifications, strict, [TRAINER_ENROLLED])
    event_id = await ev.publish(js, ev.enrolled(trainer_id, new_id()))

    failed = await delivery_of(notifications, subscription, event_id, "failed")
    assert failed["attempts"] == 1
    assert failed["last_result"] == "HTTP 400 Bad Request"
    assert failed["next_attempt_at"] is None
    assert len(strict.about(str(trainer_id))) == 1

    retried = await notifications.post(f"/v1/deliveries/{failed['id']}/retry")
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] in {"pending", "sending", "delivered"}
    delivered = await delivery_of(notifications, subscription, event_id, "delivered")
    assert [a["http_status"] for a in delivered["attempt_log"]] == [400, 200]
    receipts = strict.about(str(trainer_id))
    assert [r.answered for r in receipts] == [400, 200]
    assert receipts[0].webhook_id == receipts[1].webhook_id

    again = await notifications.post(f"/v1/deliveries/{failed['id']}/retry")
    assert again.status_code == 409
    assert again.json()["errors"][0] == {
        "field": "status",
        "rule": "failed_only",
        "message": "only a failed delivery can be retried; this one is delivered",
    }
    assert (await notifications.post(f"/v1/deliveries/{new_id()}/retry")).status_code == 404


async def test_a_partner_that_keeps_failing_is_marked_failed_after_the_last_attempt(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    down: Partner = await partners("down")
    down.answer(then=503)
    subscription = await subscribe(notifications, down, [TRAINER_ENROLLED])
    event_id, trainer_id = await enrol_someone(js)

    failed = await delivery_of(notifications, subscription, event_id, "failed")
    # Three attempts in the tests (webhook_retry_schedule_seconds has two steps).
    assert [(a["outcome"], a["http_status"]) for a in failed["attempt_log"]] == [
        ("retry", 503),
        ("retry", 503),
        ("failed", 503),
    ]
    assert failed["last_result"] == "HTTP 503 Service Unavailable (gave up after 3 attempts)"
    listed = await deliveries(
        notifications, status="failed", partner="down", channel="webhook", event_id=event_id
    )
    assert [d["id"] for d in listed] == [failed["id"]]

    down.answer(then=200)
    assert (await notifications.post(f"/v1/deliveries/{failed['id']}/retry")).status_code == 202
    delivered = await delivery_of(notifications, subscription, event_id, "delivered")
    assert delivered["attempts"] == 4
    assert len(down.about(str(trainer_id))) == 4


async def test_a_slow_partner_delays_neither_other_partners_nor_mail(
    start_notifications: StartNotifications,
    js: JetStreamContext,
    partners: Any,
    mailbox: MailBox,
) -> None:
    slow: Partner = await partners("slow")
    fast: Partner = await partners("fast")
    released = asyncio.Event()

    async def hang_until_released(receipt: Receipt) -> int:
        await released.wait()
        return 200

    slow.respond_with(hang_until_released)
    async with start_notifications(
        webhook_timeout_seconds=30.0, webhook_concurrency_per_destination=2
    ) as client:
        slow_subscription = await subscribe(client, slow, [TRAINER_ENROLLED])
        await subscribe(client, fast, [TRAINER_ENROLLED])
        school_id, email = new_id(), f"deputy-{uuid.uuid4().hex[:8]}@example.org"
        await ev.publish(js, ev.contact(school_id, email, "en"))
        trainers = [new_id() for _ in range(6)]
        event_ids = [await ev.publish(js, ev.enrolled(t, school_id)) for t in trainers]

        # While the slow partner holds every request it gets, the fast one gets them all and
        # the coordinator gets every mail.
        for trainer_id in trainers:
            await eventually(partial(receipts_about, fast, str(trainer_id)))
        await eventually(lambda: mails_to(mailbox, email, 6))
        await eventually(lambda: at_least(slow.receipts, 2))
        assert all(r.answered is None for r in slow.receipts)
        # And it never got more than its two slots' worth at once.
        assert len(slow.receipts) == 2
        assert slow.most_in_flight == 2

        released.set()

        async def all_delivered() -> Any:
            found = await deliveries(
                client, subscription_id=slow_subscription["id"], status="delivered"
            )
            return await at_least([d for d in found if d["event_id"] in event_ids], 6)

        await eventually(all_delivered)
        for trainer_id in trainers:
            assert [r.answered for r in slow.about(str(trainer_id))] == [200]
        assert slow.most_in_flight == 2


async def test_a_redelivered_event_makes_no_second_delivery(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    once: Partner = await partners("once")
    subscription = await subscribe(notifications, once, ["yts.enrolment.>"])
    trainer_id, event_id = new_id(), new_id()
    event = ev.enrolled(trainer_id, new_id())
    # The same event twice past the stream's duplicate window (another Nats-Msg-Id).
    await ev.publish(js, event, event_id=event_id)
    await ev.publish(js, event, event_id=event_id, msg_id=f"{event_id}-again")
    # Published after the repeat on the same consumer, so handled after it.
    marker = new_id()
    marker_event = await ev.publish(js, ev.cohort(marker))

    await eventually(lambda: receipts_about(once, str(marker)))
    await delivery_of(notifications, subscription, str(event_id), "delivered")
    assert len(once.about(str(trainer_id))) == 1
    assert [d["event_id"] for d in await deliveries(notifications, event_id=marker_event)]
    found = await deliveries(notifications, event_id=str(event_id))
    assert sorted(d["channel"] for d in found) == ["mail", "webhook"]


async def test_deleting_a_subscription_stops_its_deliveries_and_keeps_its_history(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    gone: Partner = await partners("gone")
    gone.answer(then=500)
    subscription = await subscribe(notifications, gone, [TRAINER_ENROLLED])
    event_id, trainer_id = await enrol_someone(js)
    await eventually(lambda: receipts_about(gone, str(trainer_id)))

    deleted = await notifications.delete(f"/v1/webhook-subscriptions/{subscription['id']}")
    assert deleted.status_code == 204
    failed = await delivery_of(notifications, subscription, event_id, "failed")
    assert failed["last_result"] == "the subscription was deleted"
    retry = await notifications.post(f"/v1/deliveries/{failed['id']}/retry")
    assert retry.status_code == 409
    assert retry.json()["errors"][0]["rule"] == "active_subscription"

    listed = (await notifications.get("/v1/webhook-subscriptions")).json()["items"]
    assert subscription["id"] not in [s["id"] for s in listed]
    history = await notifications.get(
        "/v1/webhook-subscriptions", params={"include_deleted": "true"}
    )
    (kept,) = [s for s in history.json()["items"] if s["id"] == subscription["id"]]
    assert kept["active"] is False
    assert kept["deleted_at"]
    # A later event makes its mail delivery, and none for the deleted subscription.
    later_id, _ = await enrol_someone(js)
    made = await eventually(lambda: deliveries(notifications, event_id=later_id))
    assert [d["channel"] for d in made] == ["mail"]
    missing = await notifications.delete(f"/v1/webhook-subscriptions/{new_id()}")
    assert missing.status_code == 404


async def test_deliveries_are_filtered_by_status_channel_partner_and_event_type_and_paged(
    notifications: httpx.AsyncClient, js: JetStreamContext, partners: Any
) -> None:
    alpha: Partner = await partners("alpha")
    beta: Partner = await partners("beta")
    beta.answer(then=400)
    await subscribe(notifications, alpha, ["yts.enrolment.>"])
    await subscribe(notifications, beta, [TRAINER_ENROLLED])
    trainers, school_id = [new_id() for _ in range(3)], new_id()
    enrolments = [await ev.publish(js, ev.enrolled(t, school_id)) for t in trainers]
    cohort_id = new_id()
    cohort_event = await ev.publish(js, ev.cohort(cohort_id))
    ours = {*enrolments, cohort_event}

    async def listed(**filters: Any) -> list[dict[str, Any]]:
        """Our events' deliveries only: other tests' events reach the service too."""
        return [d for d in await deliveries(notifications, **filters) if d["event_id"] in ours]

    async def settled() -> Any:
        found = await listed(channel="webhook")
        return len(found) == 7 and {d["status"] for d in found} <= {"delivered", "failed"}

    await eventually(settled)
    alpha_all = await listed(partner="alpha")
    assert len(alpha_all) == 4
    assert {d["status"] for d in alpha_all} == {"delivered"}
    assert len(await listed(partner="beta", status="failed")) == 3
    assert await listed(partner="beta", status="delivered") == []
    cohorts = await listed(event_type="yts.enrolment.cohort.opened.v1")
    assert [d["partner"] for d in cohorts] == ["alpha"]
    mail = await listed(channel="mail", event_type=TRAINER_ENROLLED)
    assert len(mail) == 3
    assert {d["waiting_for"] for d in mail} == {"contact"}
    for delivery in await deliveries(notifications, partner="beta", status="failed"):
        assert delivery["partner"] == "beta"
        assert delivery["status"] == "failed"

    # Pages of two cover the school's three mails once, in the same (newest first) order.
    whole = await deliveries(notifications, school_id=str(school_id))
    assert len(whole) == 3
    paged: list[str] = []
    for offset in (0, 2):
        page = await notifications.get(
            "/v1/deliveries", params={"school_id": str(school_id), "limit": 2, "offset": offset}
        )
        assert page.json()["total"] == 3
        paged += [d["id"] for d in page.json()["items"]]
    assert paged == [d["id"] for d in whole]
    bad = await notifications.get("/v1/deliveries", params={"status": "lost"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.status"
