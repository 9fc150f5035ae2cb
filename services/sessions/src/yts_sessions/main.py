"""Composition root of the sessions service (training of trainers, peer sessions, milestones).

The routes and subscriptions arrive with their issue; the service already runs, migrates its
database, relays its outbox and answers health checks."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_sessions import store
from yts_sessions.settings import SessionsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    settings = settings or load_settings(SessionsSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    return runtime.create_app(
        title="YTS sessions",
        description="Module completions of young trainers, peer sessions and milestones.",
    )
