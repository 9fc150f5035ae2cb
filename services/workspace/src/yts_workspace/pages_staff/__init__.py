"""Programme staff's pages (role admin; a coordinator is shown the 403 page): the programme's
home with the dashboard and exports, schools and their coordinators, cohorts, people's access,
webhook subscriptions and the delivery log, erasure of a trainer's personal data, every
service's dead letters (applied again once fixed), and the audit of who changed what."""

from __future__ import annotations

from fastapi import APIRouter

from yts_workspace.pages_staff import (
    audit,
    cohorts,
    deadletters,
    erasure,
    home,
    people,
    schools,
    webhooks,
)

router = APIRouter()
for part in (home, schools, cohorts, people, webhooks, erasure, deadletters, audit):
    router.include_router(part.router)
