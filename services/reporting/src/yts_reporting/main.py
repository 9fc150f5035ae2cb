"""Composition root of the reporting service."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_reporting import api, dashboard, store, subscriptions
from yts_reporting.settings import ReportingSettings
from yts_reporting.store import MIGRATIONS
from yts_reporting.targets import TargetPlan

DESCRIPTION = """
Indicators of the Young Trainers' School for partners (UNESCO Almaty, the methodological
centre, the city's education department), built only from events. Counts of persons (trainers)
and of encounters (peer participations) are kept apart.

Authenticate with `Authorization: Bearer <token>`: admin and partner tokens read everything, a
coordinator's token its own school only. The dashboard at `/` offers a sign-in form that keeps
the token in an HttpOnly cookie instead.
"""


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ReportingSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    app = runtime.create_app(
        title="YTS reporting",
        description=DESCRIPTION,
        routers=[
            api.build_router(api.Deps(db=runtime.db, plan=TargetPlan.of(settings))),
            dashboard.build_router(dashboard.Deps(db=runtime.db, settings=settings)),
        ],
        subscriptions=[subscriptions.build_router(runtime, settings)],
    )
    # The dashboard's stylesheet: served here, so the page works offline (no CDN).
    app.mount("/assets", StaticFiles(directory=dashboard.ASSETS), name="assets")
    return app
