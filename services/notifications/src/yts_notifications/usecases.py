"""The notifications service's commands: each in one transaction, or refused with one of
``errors`` and nothing changed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col
from yts_chassis.database import Database
from yts_chassis.ids import new_id
from yts_chassis.refusals import Breach

from yts_notifications.domain import RuleBroken, check_event_type_filter, check_webhook_url
from yts_notifications.errors import (
    DeliveryNotFailed,
    DeliveryNotKnown,
    SubscriptionDeleted,
    SubscriptionDisabled,
    SubscriptionNotKnown,
    SubscriptionRefused,
)
from yts_notifications.preparation import Preparer
from yts_notifications.schemas import SubscriptionIn
from yts_notifications.settings import NotificationsSettings
from yts_notifications.store import Channel, Delivery, DeliveryStatus, WebhookSubscription
from yts_notifications.webhooks import new_secret


@dataclass(frozen=True)
class Deps:
    db: Database
    settings: NotificationsSettings
    clock: Callable[[], datetime]
    wake: Callable[[], None]
    preparer: Preparer  # renders a mail's subject for the list of mail sent


async def create_subscription(deps: Deps, cmd: SubscriptionIn) -> WebhookSubscription:
    breaches: list[Breach] = []
    try:
        check_webhook_url(
            cmd.url, allow_insecure_loopback=deps.settings.allow_insecure_loopback_webhooks
        )
    except RuleBroken as broken:
        breaches.append(Breach("url", broken.rule, broken.message))
    for index, pattern in enumerate(cmd.event_types):
        try:
            check_event_type_filter(pattern)
        except RuleBroken as broken:
            breaches.append(Breach(f"event_types.{index}", broken.rule, broken.message))
    if breaches:
        raise SubscriptionRefused(*breaches)
    subscription = WebhookSubscription(
        id=new_id(),
        partner=cmd.partner,
        url=cmd.url,
        event_types=list(dict.fromkeys(cmd.event_types)),
        secret=new_secret(),
        active=True,
        created_at=deps.clock(),
    )
    async with deps.db.transaction() as session:
        session.add(subscription)
    return subscription


async def delete_subscription(deps: Deps, subscription_id: uuid.UUID) -> None:
    """Stop sending to it; its deliveries not yet made fail with the reason, history stays."""
    now = deps.clock()
    async with deps.db.transaction() as session:
        subscription = await session.get(WebhookSubscription, subscription_id)
        if subscription is None:
            raise SubscriptionNotKnown(subscription_id)
        if not subscription.active:
            return
        subscription.active = False
        subscription.deleted_at = now
        await session.execute(
            update(Delivery)
            .where(
                col(Delivery.subscription_id) == subscription_id,
                col(Delivery.status).in_(
                    [
                        DeliveryStatus.pending.value,
                        DeliveryStatus.sending.value,
                        DeliveryStatus.held.value,
                    ]
                ),
            )
            .values(
                status=DeliveryStatus.failed.value,
                last_result="the subscription was deleted",
                lease_until=None,
                updated_at=now,
                version=col(Delivery.version) + 1,
            )
        )


async def enable_subscription(deps: Deps, subscription_id: uuid.UUID) -> WebhookSubscription:
    """Send to a subscription disabled by a 410 Gone again: its held deliveries are due at once,
    each with a fresh round of retries. Enabling one that is not disabled changes nothing."""
    now = deps.clock()
    async with deps.db.transaction() as session:
        subscription = await session.get(WebhookSubscription, subscription_id, with_for_update=True)
        if subscription is None:
            raise SubscriptionNotKnown(subscription_id)
        if not subscription.active:
            raise SubscriptionDeleted.to_enable()
        if subscription.disabled_at is None:
            return subscription
        subscription.disabled_at = None
        subscription.disabled_reason = None
        await session.execute(
            update(Delivery)
            .where(
                col(Delivery.subscription_id) == subscription_id,
                col(Delivery.status) == DeliveryStatus.held.value,
            )
            .values(
                status=DeliveryStatus.pending.value,
                attempt_limit=col(Delivery.attempts)
                + deps.settings.max_attempts(Channel.webhook.value),
                next_attempt_at=now,
                lease_until=None,
                last_result="resumed: the subscription was re-enabled",
                updated_at=now,
                version=col(Delivery.version) + 1,
            )
        )
    deps.wake()
    return subscription


async def retry_delivery(deps: Deps, delivery_id: uuid.UUID) -> None:
    """Send a failed delivery again, with a fresh allowance of attempts."""
    now = deps.clock()
    async with deps.db.transaction() as session:
        delivery = await session.get(Delivery, delivery_id)
        if delivery is None:
            raise DeliveryNotKnown(delivery_id)
        if delivery.status != DeliveryStatus.failed.value:
            raise DeliveryNotFailed(delivery.status)
        if delivery.channel == Channel.webhook.value and delivery.subscription_id is not None:
            subscription = await session.get(WebhookSubscription, delivery.subscription_id)
            if subscription is None or not subscription.active:
                raise SubscriptionDeleted.of_delivery()
            if subscription.disabled_at is not None:
                raise SubscriptionDisabled(subscription.id, subscription.disabled_reason)
        await session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.version) == delivery.version)
            .values(
                status=DeliveryStatus.pending.value,
                attempt_limit=delivery.attempts + deps.settings.max_attempts(delivery.channel),
                next_attempt_at=now,
                lease_until=None,
                last_result="retry requested",
                updated_at=now,
                version=delivery.version + 1,
            )
        )
    deps.wake()
