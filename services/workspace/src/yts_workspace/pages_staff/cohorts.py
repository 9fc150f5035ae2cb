"""Cohorts (a programme year each): the list, opening one (enrolment's POST /v1/cohorts), and
a cohort's page with its trainers counted by school."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yts_workspace.backends import ApiProblem, new_idempotency_key
from yts_workspace.forms import answered
from yts_workspace.problems import field_messages
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]

COHORT_FIELDS = frozenset({"name", "starts_on", "ends_on"})
SAID = {("name", "string_pattern_mismatch"): "cohorts.name_pattern"}


async def _cohorts_page(visit: Visit, status: int = 200, **context: Any) -> HTMLResponse:
    cohorts = await visit.api().get("enrolment", "/v1/cohorts")
    context.setdefault("values", {"key": new_idempotency_key()})
    return render(
        visit,
        "staff_cohorts.html",
        status=status,
        cohorts=sorted(cohorts, key=lambda c: c["starts_on"], reverse=True),
        **context,
    )


@router.get("/cohorts")
async def cohorts_page(visit: Visitor) -> HTMLResponse:
    visit.staff()
    return await _cohorts_page(visit)


@router.post("/cohorts")
async def open_cohort(visit: Visitor) -> Response:
    visit.staff()
    form = await visit.form()
    body = answered({key: form.get(key) for key in COHORT_FIELDS})
    cohort, problem = await visit.api().create(
        "enrolment", "/v1/cohorts", body, str(form.get("key") or "")
    )
    if problem is not None:
        errors = field_messages(problem, visit.words, COHORT_FIELDS, SAID)
        values = {**form, "key": new_idempotency_key()}
        return await _cohorts_page(visit, 422, errors=errors, values=values)
    return RedirectResponse(f"/staff/cohorts/{cohort['id']}?opened=1", status_code=303)


@router.get("/cohorts/{cohort_id}")
async def cohort_page(cohort_id: uuid.UUID, visit: Visitor, opened: bool = False) -> HTMLResponse:
    visit.staff()
    api = visit.api()
    cohorts, schools, trainers = await asyncio.gather(
        api.get("enrolment", "/v1/cohorts"),
        api.every("enrolment", "/v1/schools"),
        api.every("enrolment", "/v1/trainers", cohort_id=str(cohort_id)),
    )
    cohort = next((c for c in cohorts if c["id"] == str(cohort_id)), None)
    if cohort is None:
        raise ApiProblem(404, "Not found")
    counted = Counter((t["school_id"], t["status"]) for t in trainers)
    rows = [
        {
            "school": school,
            "active": counted[(school["id"], "active")],
            "withdrawn": counted[(school["id"], "withdrawn")],
        }
        for school in sorted(schools, key=lambda s: s["name"])
        if counted[(school["id"], "active")] or counted[(school["id"], "withdrawn")]
    ]
    return render(
        visit, "staff_cohort.html", cohort=cohort, rows=rows, total=len(trainers), opened=opened
    )
