"""Composition root of the reporting service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_reporting import api, handlers, store
from yts_reporting.settings import ReportingSettings

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """
Indicators of the Young Trainers' School for partners (UNESCO Almaty, the methodological
centre, the city's education department), built only from events. Counts of persons (trainers)
and of encounters (peer participations) are kept apart.
"""


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ReportingSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    return runtime.create_app(
        title="YTS reporting",
        description=DESCRIPTION,
        routers=[api.build_router(runtime.db)],
        subscriptions=[handlers.subscriptions(runtime, settings)],
    )
