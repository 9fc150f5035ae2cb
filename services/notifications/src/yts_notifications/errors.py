"""What notifications refuses, in the programme's words. The use cases raise these; the edge
answers each kind as problem+json (``yts_chassis.refusals``): a subscription the rules refuse
422 (naming every field at fault), a conflict with what is recorded 409, an unknown subscription
or delivery 404."""

from __future__ import annotations

import uuid

from yts_chassis.refusals import Breach, Conflict, NotFound, RuleBroken


class SubscriptionRefused(RuleBroken):
    """A subscription whose URL or event type filters break the rules of webhooks (see
    ``domain.check_webhook_url`` and ``domain.check_event_type_filter``): every breach, so
    that one answer lists all that needs correcting."""


class SubscriptionNotKnown(NotFound):
    def __init__(self, subscription_id: uuid.UUID) -> None:
        super().__init__("webhook subscription", subscription_id)


class DeliveryNotKnown(NotFound):
    def __init__(self, delivery_id: uuid.UUID) -> None:
        super().__init__("delivery", delivery_id)


class SubscriptionDeleted(Conflict):
    """Deleted for good: it is not enabled again, nor are its deliveries retried."""

    @classmethod
    def to_enable(cls) -> SubscriptionDeleted:
        return cls(
            Breach(
                "subscription_id",
                "active_subscription",
                "the subscription was deleted: create a new one",
            )
        )

    @classmethod
    def of_delivery(cls) -> SubscriptionDeleted:
        return cls(
            Breach(
                "subscription_id",
                "active_subscription",
                "the subscription of this delivery was deleted",
            )
        )


class SubscriptionDisabled(Conflict):
    """Its endpoint answered 410 Gone: its deliveries are held until it is re-enabled, which
    sends them all; one is not retried alone."""

    def __init__(self, subscription_id: uuid.UUID, reason: str | None) -> None:
        super().__init__(
            Breach(
                "subscription_id",
                "enabled_subscription",
                f"the subscription's endpoint is disabled ({reason}): re-enable it "
                f"(POST /v1/webhook-subscriptions/{subscription_id}/enable), which sends its "
                "held deliveries",
            )
        )


class DeliveryNotFailed(Conflict):
    """Only a failed delivery is retried by hand; the others are on their way or delivered."""

    def __init__(self, status: str) -> None:
        super().__init__(
            Breach(
                "status",
                "failed_only",
                f"only a failed delivery can be retried; this one is {status}",
            )
        )
