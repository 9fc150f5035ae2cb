"""Composition root of the sessions service: settings -> logging -> db -> broker -> routers."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_sessions import api, store, subscriptions, usecases
from yts_sessions.curriculum import load_curriculum
from yts_sessions.milestones import MilestoneEngine, milestone_rules
from yts_sessions.settings import SessionsSettings

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """
Young trainers' own training (curriculum modules and certification), the peer sessions they run
for other students, and the milestones trainers, schools and the programme reach.

It keeps a replica of the roster from enrolment's events and never calls enrolment. Trainers are
opaque ids here: no names. Authenticate with `Authorization: Bearer <token>`: programme staff
(admin) act for every school; a coordinator's token acts for its own school only.
"""


def build_deps(runtime: ServiceRuntime, settings: SessionsSettings) -> usecases.Deps:
    curriculum = load_curriculum(settings.curriculum_file)
    return usecases.Deps(
        db=runtime.db,
        outbox=runtime.outbox,
        curriculum=curriculum,
        milestones=MilestoneEngine(
            runtime.outbox,
            milestone_rules(settings.milestones, len(curriculum.core_ids)),
            ZoneInfo(settings.timezone),
        ),
        timezone=ZoneInfo(settings.timezone),
    )


def create_app(settings: SessionsSettings | None = None) -> FastAPI:
    settings = settings or load_settings(SessionsSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    deps = build_deps(runtime, settings)
    app = runtime.create_app(
        title="YTS sessions",
        description=DESCRIPTION,
        routers=[api.build_router(deps)],
        subscriptions=[subscriptions.build_router(runtime)],
    )
    return app
