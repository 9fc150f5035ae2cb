"""Webhook retries against real HTTP receivers on loopback: each retry waits for its step of the
webhook schedule or a longer Retry-After, and the delivery log says when the next attempt is;
an endpoint answering 410 Gone is disabled (its waiting deliveries held, nothing new made for
it) until programme staff re-enable it, which resumes what was held."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from nats.js.client import JetStreamContext
from starlette.requests import Request
from starlette.responses import Response
from yts_chassis.ids import new_id
from yts_notifications.domain import webhook_id

from tests.notifications.conftest import StartNotifications, deliveries, receipts_about
from tests.notifications.test_webhooks import TRAINER_ENROLLED, delivery_of, subscribe
from tests.support import notifications_events as ev
from tests.support.notifications_partner import Partner, Receipt
from tests.support.services import eventually


class ThrottlingPartner(Partner):
    """A receiver whose 503 answers carry ``Retry-After: <retry_after>`` when it is set."""

    retry_after: str | None = None

    async def _receive(self, request: Request) -> Response:
        response = await super()._receive(request)
        if response.status_code == 503 and self.retry_after is not None:
            response.headers["retry-after"] = self.retry_after
        return response


def seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


async def test_a_retry_waits_for_its_step_or_a_longer_retry_after_and_the_log_says_when(
    start_notifications: StartNotifications, js: JetStreamContext
) -> None:
    partner = ThrottlingPartner("throttled")
    await partner.start()
    throttled_trainer, busy_trainer = new_id(), new_id()

    def first_answer_only(receipt: Receipt) -> bool:
        """Each of the two events is refused once (503), then taken."""
        for trainer in (throttled_trainer, busy_trainer):
            if str(trainer).encode() in receipt.body:
                return len(partner.about(str(trainer))) == 1
        return False

    async def respond(receipt: Receipt) -> int:
        return 503 if first_answer_only(receipt) else 200

    partner.respond_with(respond)
    try:
        async with start_notifications(webhook_retry_schedule_seconds=[5, 7200]) as client:
            subscription = await subscribe(client, partner, [TRAINER_ENROLLED])
            partner.retry_after = "120"
            throttled = await ev.publish(js, ev.enrolled(throttled_trainer, new_id()))
            await eventually(lambda: receipts_about(partner, str(throttled_trainer)))

            async def waiting() -> dict[str, Any] | None:
                detail = await delivery_of(client, subscription, throttled, "pending")
                return detail if detail["attempt_log"] else None

            pending = await eventually(waiting)
            (first,) = pending["attempt_log"]
            assert (first["outcome"], first["http_status"]) == ("retry", 503)
            # The log says when the next attempt is: Retry-After's 120 s, not the 5 s step.
            assert first["retry_at"] == pending["next_attempt_at"]
            assert 120 <= seconds_between(first["started_at"], first["retry_at"]) <= 125

            partner.retry_after = None
            busy = await ev.publish(js, ev.enrolled(busy_trainer, new_id()))
            delivered = await delivery_of(client, subscription, busy, "delivered")
            retried, succeeded = delivered["attempt_log"]
            assert (retried["outcome"], succeeded["outcome"]) == ("retry", "delivered")
            # Without Retry-After: the schedule's first step, 5 s give or take 10 %.
            assert 4.5 <= seconds_between(retried["started_at"], retried["retry_at"]) <= 7
            assert seconds_between(retried["retry_at"], succeeded["started_at"]) >= 0
            # The throttled one still waits for its turn.
            assert len(partner.about(str(throttled_trainer))) == 1
    finally:
        await partner.stop()


async def test_an_endpoint_answering_410_gone_is_disabled_until_re_enabled_which_resumes_it(
    start_notifications: StartNotifications, js: JetStreamContext, partners: Any
) -> None:
    gone: Partner = await partners("gone-away")
    witness: Partner = await partners("witness")
    retried_trainer, gone_trainer, refused_trainer = new_id(), new_id(), new_id()
    endpoint_gone = True

    async def respond(receipt: Receipt) -> int:
        if endpoint_gone and str(refused_trainer).encode() in receipt.body:
            return 400  # failed before the endpoint went
        if endpoint_gone and str(retried_trainer).encode() in receipt.body:
            return 503  # a delivery waiting for its retry when the endpoint goes
        if endpoint_gone and str(gone_trainer).encode() in receipt.body:
            return 410
        return 200

    gone.respond_with(respond)
    # A retry an hour away: the first delivery is still waiting when the 410 comes.
    async with start_notifications(webhook_retry_schedule_seconds=[3600]) as client:
        subscription = await subscribe(client, gone, [TRAINER_ENROLLED])
        await subscribe(client, witness, [TRAINER_ENROLLED])
        refused_event = await ev.publish(js, ev.enrolled(refused_trainer, new_id()))
        refused = await delivery_of(client, subscription, refused_event, "failed")
        retried_event = await ev.publish(js, ev.enrolled(retried_trainer, new_id()))
        waiting = await delivery_of(client, subscription, retried_event, "pending")

        async def retry_planned() -> bool:
            detail = await delivery_of(client, subscription, retried_event, "pending")
            return detail["attempts"] == 1 and detail["next_attempt_at"] is not None

        await eventually(retry_planned)
        gone_event = await ev.publish(js, ev.enrolled(gone_trainer, new_id()))

        # The 410 disables the subscription and holds both deliveries: none failed.
        held = await delivery_of(client, subscription, gone_event, "held")
        assert [(a["outcome"], a["http_status"]) for a in held["attempt_log"]] == [
            ("disabled", 410)
        ]
        assert held["next_attempt_at"] is None
        assert held["last_result"].startswith("endpoint disabled (the endpoint answered HTTP 410")
        set_aside = await delivery_of(client, subscription, retried_event, "held")
        assert set_aside["id"] == waiting["id"]
        assert set_aside["attempts"] == 1
        assert set_aside["last_result"] == held["last_result"]
        failed = await deliveries(client, subscription_id=subscription["id"], status="failed")
        assert [d["id"] for d in failed] == [refused["id"]]
        listed = (await client.get("/v1/webhook-subscriptions")).json()["items"]
        (disabled,) = [s for s in listed if s["id"] == subscription["id"]]
        assert disabled["active"] is True
        assert disabled["disabled_at"] is not None
        assert disabled["disabled_reason"] == "the endpoint answered HTTP 410 Gone"
        # A held delivery is not retried by hand, and a failed one waits for the re-enabling.
        not_failed = await client.post(f"/v1/deliveries/{held['id']}/retry")
        assert not_failed.status_code == 409
        assert not_failed.json()["errors"][0]["message"] == (
            "only a failed delivery can be retried; this one is held"
        )
        while_disabled = await client.post(f"/v1/deliveries/{refused['id']}/retry")
        assert while_disabled.status_code == 409
        (problem,) = while_disabled.json()["errors"]
        assert problem["rule"] == "enabled_subscription"
        assert f"/v1/webhook-subscriptions/{subscription['id']}/enable" in problem["message"]

        # The next event goes to the witness and is neither sent nor queued for the gone one.
        later_trainer = new_id()
        later_event = await ev.publish(js, ev.enrolled(later_trainer, new_id()))
        await eventually(lambda: receipts_about(witness, str(later_trainer)))
        made = await deliveries(client, event_id=later_event, channel="webhook")
        assert [d["partner"] for d in made] == ["witness"]
        assert gone.about(str(later_trainer)) == []
        assert len(gone.about(str(gone_trainer))) == 1
        assert len(gone.about(str(retried_trainer))) == 1

        # Programme staff re-enable it once the partner is back: what was held is sent.
        endpoint_gone = False
        enabled = await client.post(f"/v1/webhook-subscriptions/{subscription['id']}/enable")
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["disabled_at"] is None
        assert enabled.json()["disabled_reason"] is None
        resumed = await delivery_of(client, subscription, gone_event, "delivered")
        assert [a["outcome"] for a in resumed["attempt_log"]] == ["disabled", "delivered"]
        resumed_retry = await delivery_of(client, subscription, retried_event, "delivered")
        assert [a["http_status"] for a in resumed_retry["attempt_log"]] == [503, 200]
        receipts = gone.about(str(gone_trainer))
        assert [r.answered for r in receipts] == [410, 200]
        expected_id = webhook_id(gone_event, uuid.UUID(subscription["id"]))
        assert {r.webhook_id for r in receipts} == {expected_id}
        assert (await client.post(f"/v1/deliveries/{refused['id']}/retry")).status_code == 202
        await delivery_of(client, subscription, refused_event, "delivered")
        # Events published while it was disabled are not sent; new ones are.
        assert gone.about(str(later_trainer)) == []
        newest_trainer = new_id()
        newest_event = await ev.publish(js, ev.enrolled(newest_trainer, new_id()))
        await delivery_of(client, subscription, newest_event, "delivered")
        # Enabling again changes nothing; an unknown or deleted subscription cannot be enabled.
        again = await client.post(f"/v1/webhook-subscriptions/{subscription['id']}/enable")
        assert again.status_code == 200
        assert (await client.post(f"/v1/webhook-subscriptions/{new_id()}/enable")).status_code == (
            404
        )
        await client.delete(f"/v1/webhook-subscriptions/{subscription['id']}")
        deleted = await client.post(f"/v1/webhook-subscriptions/{subscription['id']}/enable")
        assert deleted.status_code == 409
        assert deleted.json()["errors"][0]["rule"] == "active_subscription"


async def test_re_enabling_a_subscription_is_documented_in_openapi(
    notifications: httpx.AsyncClient,
) -> None:
    document = (await notifications.get("/openapi.json")).json()
    operation = document["paths"]["/v1/webhook-subscriptions/{subscription_id}/enable"]["post"]
    assert "410 Gone" in operation["summary"]
    assert "held" in operation["description"]
    assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
    subscription = document["components"]["schemas"]["SubscriptionOut"]["properties"]
    assert "410 Gone" in subscription["disabled_at"]["description"]
    statuses = document["components"]["schemas"]["DeliveryStatus"]["enum"]
    assert "held" in statuses
