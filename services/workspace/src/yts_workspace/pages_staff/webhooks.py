"""Partners' webhook subscriptions (notifications' API): the list with each one's state, a new
one (the service's address and filter rules said next to the fields; its signing secret shown
once), deleting one, re-enabling one its endpoint disabled (410 Gone); and the delivery log of
mail and webhooks with every attempt, and a failed delivery sent again."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from yts_contracts.catalog import CATALOG

from yts_workspace.backends import ApiProblem, new_idempotency_key
from yts_workspace.forms import answered
from yts_workspace.problems import field_messages
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]

SUBSCRIPTION_FIELDS = frozenset({"partner", "url", "event_types"})
PUBLIC_EVENT_TYPES = tuple(CATALOG.public())
DELIVERY_STATUSES = ("pending", "sending", "delivered", "failed", "held")


@router.get("/webhooks")
async def webhooks_page(
    visit: Visitor, deleted: bool = False, enabled: bool = False
) -> HTMLResponse:
    visit.staff()
    subscriptions = await visit.api().every(
        "notifications", "/v1/webhook-subscriptions", include_deleted="true"
    )
    subscriptions.sort(key=lambda s: (not s["active"], s["partner"].casefold()))
    return render(
        visit, "staff_webhooks.html", subscriptions=subscriptions, deleted=deleted, enabled=enabled
    )


def _subscription_form(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("values", {"key": new_idempotency_key()})
    return render(
        visit,
        "staff_webhook_new.html",
        status=status,
        public_event_types=PUBLIC_EVENT_TYPES,
        **context,
    )


@router.get("/webhooks/new")
async def subscription_page(visit: Visitor) -> HTMLResponse:
    visit.staff()
    return _subscription_form(visit)


@router.post("/webhooks/new")
async def subscribe(visit: Visitor) -> Response:
    """A subscription made; the page shows its signing secret, which is never shown again."""
    visit.staff()
    form = await visit.form()
    patterns = [line.strip() for line in str(form.get("event_types", "")).splitlines()]
    body = answered({"partner": form.get("partner"), "url": form.get("url")})
    body["event_types"] = [p for p in patterns if p]  # an empty list: "choose at least one"
    created, problem = await visit.api().create(
        "notifications", "/v1/webhook-subscriptions", body, str(form.get("key") or "")
    )
    if problem is not None:
        errors = field_messages(problem, visit.words, SUBSCRIPTION_FIELDS)
        values = {**form, "key": new_idempotency_key()}
        return _subscription_form(visit, 422, errors=errors, values=values)
    return render(visit, "staff_webhook_made.html", status=201, subscription=created)


@router.post("/webhooks/{subscription_id}/deletion")
async def delete_subscription(subscription_id: uuid.UUID, visit: Visitor) -> Response:
    """Nothing more is sent to it; its delivery history stays."""
    visit.staff()
    await visit.form()
    await visit.api().delete("notifications", f"/v1/webhook-subscriptions/{subscription_id}")
    return RedirectResponse("/staff/webhooks?deleted=1", status_code=303)


@router.post("/webhooks/{subscription_id}/enabling")
async def enable_subscription(subscription_id: uuid.UUID, visit: Visitor) -> Response:
    """A subscription its endpoint disabled (410 Gone) sends again; held deliveries resume."""
    visit.staff()
    await visit.form()
    await visit.api().post(
        "notifications", f"/v1/webhook-subscriptions/{subscription_id}/enable", None
    )
    return RedirectResponse("/staff/webhooks?enabled=1", status_code=303)


@router.get("/deliveries")
async def deliveries_page(
    visit: Visitor, status: str = "", subscription_id: uuid.UUID | None = None
) -> HTMLResponse:
    visit.staff()
    shown = status if status in DELIVERY_STATUSES else ""
    api = visit.api()
    deliveries, subscriptions = await asyncio.gather(
        api.get(
            "notifications",
            "/v1/deliveries",
            status=shown or None,
            subscription_id=str(subscription_id) if subscription_id else None,
            limit=100,
        ),
        api.every("notifications", "/v1/webhook-subscriptions", include_deleted="true"),
    )
    return render(
        visit,
        "staff_deliveries.html",
        deliveries=deliveries,
        subscription=next((s for s in subscriptions if s["id"] == str(subscription_id)), None),
        statuses=DELIVERY_STATUSES,
        shown=shown,
    )


async def _delivery_page(
    visit: Visit, delivery_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    delivery = await visit.api().get("notifications", f"/v1/deliveries/{delivery_id}")
    return render(visit, "staff_delivery.html", status=status, delivery=delivery, **context)


@router.get("/deliveries/{delivery_id}")
async def delivery_page(
    delivery_id: uuid.UUID, visit: Visitor, retried: bool = False
) -> HTMLResponse:
    visit.staff()
    return await _delivery_page(visit, delivery_id, retried=retried)


@router.post("/deliveries/{delivery_id}/retry")
async def retry_delivery(delivery_id: uuid.UUID, visit: Visitor) -> Response:
    visit.staff()
    await visit.form()
    try:
        await visit.api().post("notifications", f"/v1/deliveries/{delivery_id}/retry", None)
    except ApiProblem as problem:
        if problem.status != 409:
            raise
        return await _delivery_page(visit, delivery_id, 409, not_retried=problem)
    return RedirectResponse(f"/staff/deliveries/{delivery_id}?retried=1", status_code=303)
