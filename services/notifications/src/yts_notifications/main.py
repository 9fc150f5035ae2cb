"""Composition root of the notifications service (coordinator mail, partner webhooks).

The routes and subscriptions arrive with their issue; the service already runs, migrates its
database, relays its outbox and answers health checks."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_notifications import store
from yts_notifications.settings import NotificationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or load_settings(NotificationsSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    return runtime.create_app(
        title="YTS notifications",
        description="Mail to school coordinators and signed webhooks to partners.",
    )
