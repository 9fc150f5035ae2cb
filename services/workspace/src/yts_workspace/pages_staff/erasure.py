"""Erasure requests: staff find the trainer by name, read what will be erased and what stays,
confirm, and enrolment erases the personal data (DELETE /v1/trainers/{id}/personal-data),
keeping an anonymous record so that the figures stay right."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yts_workspace.pages_school import name_of
from yts_workspace.problems import FieldMessage
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/staff")
Visitor = Annotated[Visit, Depends(visit_of)]


@router.get("/erasure")
async def find_trainer(visit: Visitor, q: str = "") -> HTMLResponse:
    visit.staff()
    wanted = q.strip().casefold()
    rows: list[dict[str, Any]] = []
    if wanted:
        api = visit.api()
        trainers, schools = await asyncio.gather(
            api.every("enrolment", "/v1/trainers"), api.every("enrolment", "/v1/schools")
        )
        names = {s["id"]: s["name"] for s in schools}
        rows = [
            {"trainer": t, "name": name_of(t), "school": names.get(t["school_id"], "")}
            for t in trainers
            if not t.get("erased") and wanted in name_of(t).casefold()
        ]
        rows.sort(key=lambda row: (row["name"].casefold(), row["school"]))
    return render(visit, "staff_erasure.html", q=q, rows=rows)


async def _erasure_page(
    visit: Visit, trainer_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    api = visit.api()
    trainer = await api.get("enrolment", f"/v1/trainers/{trainer_id}")
    school, cohorts = await asyncio.gather(
        api.get("enrolment", f"/v1/schools/{trainer['school_id']}"),
        api.get("enrolment", "/v1/cohorts"),
    )
    cohort = next((c for c in cohorts if c["id"] == trainer["cohort_id"]), None)
    return render(
        visit,
        "staff_erase.html",
        status=status,
        trainer=trainer,
        name=name_of(trainer),
        school=school,
        cohort=cohort,
        **context,
    )


@router.get("/erasure/{trainer_id}")
async def erasure_page(trainer_id: uuid.UUID, visit: Visitor, erased: bool = False) -> HTMLResponse:
    visit.staff()
    return await _erasure_page(visit, trainer_id, erased=erased)


@router.post("/erasure/{trainer_id}")
async def erase(trainer_id: uuid.UUID, visit: Visitor) -> Response:
    """Erased only once the person confirmed, on the page naming what goes."""
    visit.staff()
    form = await visit.form()
    if form.get("confirm") != "yes":
        error = FieldMessage("confirm", visit.words("erasure.confirm_needed"))
        return await _erasure_page(visit, trainer_id, 422, errors=[error])
    await visit.api().delete("enrolment", f"/v1/trainers/{trainer_id}/personal-data")
    return RedirectResponse(f"/staff/erasure/{trainer_id}?erased=1", status_code=303)
