"""Composition root of the enrolment service: settings -> logging -> db -> broker -> routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from yts_chassis.service import ServiceRuntime
from yts_chassis.settings import load_settings

from yts_enrolment import api, disk_erasure, store, subscriptions, usecases
from yts_enrolment.settings import EnrolmentSettings

MIGRATIONS = Path(__file__).parent / "migrations"

DESCRIPTION = """
Schools, cohorts and young trainers of the Young Trainers' School (UNESCO Almaty).

This is the only service that holds trainers' personal data (they are minors). Everything it
publishes identifies a trainer by an opaque id and categories (grade, gender, languages).
Authenticate with `Authorization: Bearer <token>`: programme staff (admin) manage schools and
cohorts; a coordinator's token acts for its own school only.
"""


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    settings = settings or load_settings(EnrolmentSettings)
    runtime = ServiceRuntime(settings, store.messaging, MIGRATIONS)
    disk_erasure.zero_freed_space(runtime.db)
    deps = usecases.Deps(db=runtime.db, outbox=runtime.outbox, idempotency=runtime.idempotency)
    app = runtime.create_app(
        title="YTS enrolment",
        description=DESCRIPTION,
        routers=[api.build_router(deps)],
        subscriptions=[subscriptions.build_router(runtime)],
    )
    return app
