"""Composition root of the notifications service (coordinator mail, partner webhooks):
settings -> runtime (logging, database, broker) -> intake and delivery engine -> routes and
subscriptions -> ASGI app whose lifespan also runs the engine (a worker of the runtime)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_notifications import api, store, subscriptions, usecases
from yts_notifications.curriculum import load_module_titles
from yts_notifications.egress import Resolver, system_resolver
from yts_notifications.engine import DeliveryEngine
from yts_notifications.intake import Intake
from yts_notifications.mail import Mailer, MailTemplates
from yts_notifications.preparation import Preparer
from yts_notifications.settings import NotificationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """
Mail to school coordinators (in kk, ru or en) and signed webhooks to partner organisations of
the Young Trainers' School (UNESCO Almaty).

Webhooks are structured CloudEvents (JSON) signed per the Standard Webhooks spec
(`webhook-id`, `webhook-timestamp`, `webhook-signature`); `webhook-id` is the same on every
attempt of one event to one subscription. Every attempt of every mail and webhook is recorded.
Webhooks are retried over about three and a half days (5 s, 5 min, 30 min, 2 h, 5 h, then every
10 h, honouring `Retry-After`); an endpoint answering `410 Gone` is disabled, its waiting
deliveries held, until programme staff re-enable it. Programme staff (admin) manage
subscriptions and deliveries.
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: NotificationsSettings | None = None,
    *,
    clock: Callable[[], datetime] = _utc_now,
    resolver: Resolver = system_resolver,
) -> FastAPI:
    """``clock`` is what "now" means for scheduling (tests move it to a summary's hour);
    ``resolver`` finds the addresses of webhook hosts (tests map their names to loopback)."""
    settings = settings or load_settings(NotificationsSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    preparer = Preparer(settings, MailTemplates(load_module_titles(settings.curriculum_file)))
    engine = DeliveryEngine(runtime.db, settings, preparer, Mailer(settings), clock, resolver)
    deps = usecases.Deps(
        db=runtime.db, settings=settings, clock=clock, wake=engine.wake, preparer=preparer
    )
    app = runtime.create_app(
        title="YTS notifications",
        description=DESCRIPTION,
        routers=[api.build_router(deps)],
        subscriptions=[subscriptions.build_router(runtime, Intake(engine.planner))],
        # Started once the database is migrated, stopped before the runtime closes it.
        workers=[engine],
        openapi_tags=[
            {"name": "webhooks", "description": "partners' subscriptions to public events"},
            {"name": "deliveries", "description": "every mail and webhook, with its attempts"},
        ],
    )
    app.state.engine = engine
    return app
