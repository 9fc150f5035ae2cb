"""Programme staff's pages (role admin; a coordinator is shown the 403 page): the programme's
home with the dashboard and exports, schools and their coordinators, cohorts, people's access,
webhook subscriptions and the delivery log, erasure of a trainer's personal data."""

from __future__ import annotations

from fastapi import APIRouter

from yts_workspace.pages_staff import cohorts, erasure, home, people, schools, webhooks

router = APIRouter()
for part in (home, schools, cohorts, people, webhooks, erasure):
    router.include_router(part.router)
