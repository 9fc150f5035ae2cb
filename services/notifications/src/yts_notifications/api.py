"""Notifications' HTTP routes (programme staff only): parse, authorise, call a use case. What
the use cases refuse is answered as problem+json by ``yts_chassis.refusals``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from yts_chassis.auth import Principal, Role, require_roles, school_scope
from yts_chassis.errors import Problem
from yts_chassis.idempotency import idempotent_create
from yts_chassis.paging import Limit, Offset, Page

from yts_notifications import queries, usecases
from yts_notifications.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    SentMailOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from yts_notifications.store import Channel, DeliveryStatus, WebhookSubscription

Admin = Annotated[Principal, Depends(require_roles(Role.admin))]
Staff = Annotated[Principal, Depends(require_roles(Role.admin, Role.coordinator))]

PROBLEMS = {
    401: {"description": "no or unknown bearer token"},
    403: {"description": "only programme staff (admin) manage webhooks and deliveries"},
    422: {"description": "bad input: the problem names the field and the rule"},
}


def subscription_out(subscription: WebhookSubscription) -> SubscriptionOut:
    return SubscriptionOut.model_validate(subscription, from_attributes=True)


def delivery_out(row: queries.DeliveryRow) -> DeliveryOut:
    out = DeliveryOut.model_validate(row.delivery, from_attributes=True)
    # Delivered and failed are final; a held delivery waits for its subscription, not a time.
    final = out.status in {
        DeliveryStatus.delivered.value,
        DeliveryStatus.failed.value,
        DeliveryStatus.held.value,
    }
    return out.model_copy(
        update={"partner": row.partner, "next_attempt_at": None if final else out.next_attempt_at}
    )


def build_router(deps: usecases.Deps) -> APIRouter:
    router = APIRouter(prefix="/v1", responses=PROBLEMS)  # type: ignore[arg-type]

    @router.post(
        "/webhook-subscriptions",
        status_code=status.HTTP_201_CREATED,
        tags=["webhooks"],
        summary="Subscribe a partner's URL to public events (the secret is shown only here)",
        **idempotent_create(),
    )
    async def create_subscription(body: SubscriptionIn, _: Admin) -> SubscriptionCreated:
        subscription = await usecases.create_subscription(deps, body)
        return SubscriptionCreated.model_validate(subscription, from_attributes=True)

    @router.get("/webhook-subscriptions", tags=["webhooks"], summary="List subscriptions")
    async def list_subscriptions(
        _: Admin,
        include_deleted: bool = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[SubscriptionOut]:
        found = await queries.subscriptions(
            deps.db, include_deleted=include_deleted, limit=limit, offset=offset
        )
        return Page[SubscriptionOut](
            items=[subscription_out(s) for s in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.delete(
        "/webhook-subscriptions/{subscription_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["webhooks"],
        summary="Stop sending to a subscription (its delivery history stays)",
    )
    async def delete_subscription(subscription_id: uuid.UUID, _: Admin) -> Response:
        await usecases.delete_subscription(deps, subscription_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/webhook-subscriptions/{subscription_id}/enable",
        tags=["webhooks"],
        summary="Send to a subscription disabled by a 410 Gone again; its held deliveries resume",
        responses={
            404: {"description": "no such subscription"},
            409: {"description": "the subscription was deleted"},
        },
    )
    async def enable_subscription(subscription_id: uuid.UUID, _: Admin) -> SubscriptionOut:
        """A subscription whose endpoint answered `410 Gone` is disabled: nothing is sent to it,
        no delivery is made for new events, and its waiting deliveries are held. Enabling it
        makes the held deliveries due at once, each with a fresh round of retries; events
        published while it was disabled are not sent. Enabling one that is not disabled
        changes nothing."""
        return subscription_out(await usecases.enable_subscription(deps, subscription_id))

    @router.get("/deliveries", tags=["deliveries"], summary="List mail and webhook deliveries")
    async def list_deliveries(
        _: Admin,
        status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
        channel: Channel | None = None,
        partner: str | None = None,
        event_type: str | None = None,
        event_id: str | None = None,
        school_id: uuid.UUID | None = None,
        subscription_id: uuid.UUID | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[DeliveryOut]:
        """Newest first."""
        where = queries.DeliveryFilter(
            status=status_.value if status_ else None,
            channel=channel.value if channel else None,
            partner=partner,
            event_type=event_type,
            event_id=event_id,
            school_id=school_id,
            subscription_id=subscription_id,
        )
        found = await queries.deliveries(deps.db, where, limit=limit, offset=offset)
        return Page[DeliveryOut](
            items=[delivery_out(row) for row in found.items],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get("/mail", tags=["deliveries"], summary="Mail sent to schools' coordinators")
    async def list_mail(
        principal: Staff,
        school_id: uuid.UUID | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Page[SentMailOut]:
        """Newest first: each mail's kind, subject, status and when it was sent. A coordinator
        sees their own school's mail only (another school is a 403); staff see every school's,
        or one school's with ``school_id``."""
        school_id = school_scope(principal, school_id)
        found = await queries.mail_sent(
            deps.db, deps.preparer, school_id, limit=limit, offset=offset
        )
        return Page[SentMailOut](
            items=[
                SentMailOut(
                    id=mail.delivery.id,
                    kind=mail.delivery.message or "",
                    subject=mail.subject,
                    school_id=mail.school_id,
                    status=mail.delivery.status,
                    created_at=mail.delivery.created_at,
                    sent_at=mail.delivery.delivered_at,
                )
                for mail in found.items
            ],
            total=found.total,
            limit=limit,
            offset=offset,
        )

    @router.get(
        "/deliveries/{delivery_id}",
        tags=["deliveries"],
        summary="One delivery with every attempt made for it",
    )
    async def get_delivery(delivery_id: uuid.UUID, _: Admin) -> DeliveryDetail:
        found = await queries.delivery(deps.db, delivery_id)
        if found is None:
            raise Problem.not_found("delivery", delivery_id)
        row, attempts = found
        return DeliveryDetail(
            **delivery_out(row).model_dump(),
            attempt_log=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        )

    @router.post(
        "/deliveries/{delivery_id}/retry",
        status_code=status.HTTP_202_ACCEPTED,
        tags=["deliveries"],
        summary="Send a failed delivery again",
        responses={409: {"description": "it has not failed, or its subscription is gone"}},
    )
    async def retry_delivery(delivery_id: uuid.UUID, _: Admin) -> DeliveryOut:
        await usecases.retry_delivery(deps, delivery_id)
        found = await queries.delivery(deps.db, delivery_id)
        assert found is not None
        return delivery_out(found[0])

    return router
