"""The delivery engine keeps going: a delivery that cannot be prepared fails alone with the
reason while those behind it are sent, and a pass that fails as a whole (the database away)
shows in /metrics until a pass works again."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import pytest
from nats.js.client import JetStreamContext
from sqlalchemy.exc import OperationalError
from yts_chassis.ids import new_id
from yts_notifications.engine import DeliveryEngine
from yts_notifications.preparation import Prepared
from yts_notifications.store import Delivery

from tests.notifications.conftest import deliveries, metric, receipts_about
from tests.notifications.test_webhooks import TRAINER_ENROLLED, delivery_of, subscribe
from tests.support import notifications_events as ev
from tests.support.notifications_partner import Partner
from tests.support.services import eventually


def engine_of(client: httpx.AsyncClient) -> DeliveryEngine:
    engine: DeliveryEngine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


async def test_a_delivery_that_cannot_be_prepared_fails_alone_and_the_next_is_sent(
    notifications: httpx.AsyncClient,
    js: JetStreamContext,
    partners: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    partner: Partner = await partners("steady")
    subscription = await subscribe(notifications, partner, [TRAINER_ENROLLED])
    preparer = engine_of(notifications).preparer
    prepare = preparer.prepare
    broken_trainer, broken_event_id = new_id(), new_id()

    async def broken_for_one_event(session: Any, delivery: Delivery) -> Prepared:
        # Stands for any bug met by one row (a stored event a template cannot render...).
        if delivery.event_id == str(broken_event_id):
            raise KeyError("grade")
        return await prepare(session, delivery)

    monkeypatch.setattr(preparer, "prepare", broken_for_one_event)
    broken_event = await ev.publish(
        js, ev.enrolled(broken_trainer, new_id()), event_id=broken_event_id
    )
    later_trainer = new_id()
    later_event = await ev.publish(js, ev.enrolled(later_trainer, new_id()))

    await eventually(partial(receipts_about, partner, str(later_trainer)))
    await delivery_of(notifications, subscription, later_event, "delivered")
    failed = await delivery_of(notifications, subscription, broken_event, "failed")
    assert failed["last_result"] == "not sent: it could not be prepared (KeyError: 'grade')"
    assert failed["attempts"] == 0
    assert partner.about(str(broken_trainer)) == []
    # Once the bug is fixed, a manual retry sends it.
    monkeypatch.undo()
    assert (await notifications.post(f"/v1/deliveries/{failed['id']}/retry")).status_code == 202
    await delivery_of(notifications, subscription, broken_event, "delivered")


async def test_failing_engine_passes_show_in_metrics_until_one_works(
    notifications: httpx.AsyncClient, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engine_of(notifications)
    failed_passes = partial(metric, notifications, "yts_notification_engine_failed_passes_total")
    failing = partial(metric, notifications, "yts_notification_engine_failing_passes")
    before = await failed_passes() or 0.0

    async def database_away() -> bool:
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(engine, "_dispatch_due", database_away)
    engine.wake()

    async def counted() -> bool:
        return (await failed_passes() or 0.0) > before and (await failing() or 0.0) >= 1

    await eventually(counted)
    # Nothing was failed for it: mail made meanwhile waits, and goes once the database is back.
    school_id = new_id()
    event_id = await ev.publish(js, ev.enrolled(new_id(), school_id))
    (waiting,) = await eventually(lambda: deliveries(notifications, event_id=event_id))
    assert waiting["status"] == "pending"

    monkeypatch.undo()

    async def recovered() -> bool:
        return await failing() == 0.0

    await eventually(recovered, timeout=15)
    pending_mail = await metric(
        notifications, "yts_notification_deliveries", channel="mail", status="pending"
    )
    # The mail waits for the school's contact.
    assert pending_mail is not None
    assert pending_mail >= 1


async def test_a_database_error_while_preparing_fails_no_delivery(
    notifications: httpx.AsyncClient,
    js: JetStreamContext,
    partners: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    partner: Partner = await partners("patient")
    subscription = await subscribe(notifications, partner, [TRAINER_ENROLLED])
    preparer = engine_of(notifications).preparer
    failed_passes = partial(metric, notifications, "yts_notification_engine_failed_passes_total")
    before = await failed_passes() or 0.0

    async def database_away(session: Any, delivery: Delivery) -> Prepared:
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(preparer, "prepare", database_away)
    trainer_id = new_id()
    event_id = await ev.publish(js, ev.enrolled(trainer_id, new_id()))

    async def passes_failed() -> bool:
        return (await failed_passes() or 0.0) >= before + 2

    # The pass fails as a whole, again and again, instead of failing the delivery.
    await eventually(passes_failed)
    (waiting,) = await deliveries(notifications, event_id=event_id, channel="webhook")
    assert (waiting["status"], waiting["attempts"]) == ("pending", 0)

    monkeypatch.undo()
    await delivery_of(notifications, subscription, event_id, "delivered")
    assert len(partner.about(str(trainer_id))) == 1
