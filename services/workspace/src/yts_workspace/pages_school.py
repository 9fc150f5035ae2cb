"""A school's pages (its coordinator's, and programme staff's): trainers and their progress,
enrolment, module completions for several trainers at once, peer sessions, withdrawal, the
school's figures. Every form posts here and is sent to the service's API, whose problems are
shown next to the fields."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yts_workspace.backends import Api, ApiProblem, new_idempotency_key
from yts_workspace.forms import answered, as_list, whole
from yts_workspace.problems import FieldMessage, field_messages
from yts_workspace.web import Visit, render, visit_of

router = APIRouter(prefix="/schools/{school_id}")
Visitor = Annotated[Visit, Depends(visit_of)]

GENDERS = ("female", "male", "undisclosed")
LANGUAGE_CODES = ("kk", "ru", "en")
WITHDRAWAL_REASONS = ("moved_school", "graduated", "personal", "other")
CANCELLATION_REASONS = (
    "facilitator_unavailable",
    "school_closure",
    "schedule_conflict",
    "low_attendance",
    "weather",
    "other",
)
PEER_GRADES = tuple(str(grade) for grade in range(5, 12))

ENROL_FIELDS = frozenset(
    {
        "cohort_id",
        "first_name",
        "last_name",
        "grade",
        "gender",
        "languages",
        "guardian_consent.guardian_name",
        "guardian_consent.given_on",
        "enrolled_on",
    }
)
PLAN_FIELDS = frozenset({"topic_module_id", "facilitator_ids", "language", "planned_on"})
OUTCOME_FIELDS = frozenset(
    {
        "delivered_on",
        "duration_minutes",
        "participants.total",
        "participants.female",
        "participants.male",
        "participants.by_grade",
        "feedback.responses",
        "feedback.average_rating",
    }
)


def name_of(trainer: dict[str, Any]) -> str:
    return f"{trainer.get('first_name') or ''} {trainer.get('last_name') or ''}".strip()


async def progress_of(api: Api, trainer_id: str) -> dict[str, Any] | None:
    """A trainer's progress; None while sessions has not yet heard of the enrolment."""
    try:
        found: dict[str, Any] = await api.get("sessions", f"/v1/trainers/{trainer_id}/progress")
        return found
    except ApiProblem as problem:
        if problem.status == 404:
            return None
        raise


async def school_and_trainers(
    api: Api, school_id: uuid.UUID, status: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    school, trainers = await asyncio.gather(
        api.get("enrolment", f"/v1/schools/{school_id}"),
        api.every("enrolment", "/v1/trainers", school_id=str(school_id), status=status),
    )
    trainers = [t for t in trainers if not t.get("erased")]
    return school, sorted(trainers, key=lambda t: name_of(t).casefold())


@router.get("")
async def school_page(school_id: uuid.UUID, visit: Visitor, q: str = "") -> HTMLResponse:
    visit.school(school_id)
    api = visit.api()
    school, trainers = await school_and_trainers(api, school_id)
    wanted = q.strip().casefold()
    if wanted:
        trainers = [t for t in trainers if wanted in name_of(t).casefold()]
    progress = await asyncio.gather(*(progress_of(api, t["id"]) for t in trainers))
    rows = [
        {"trainer": t, "name": name_of(t), "progress": p}
        for t, p in zip(trainers, progress, strict=True)
    ]
    return render(visit, "school.html", school=school, rows=rows, q=q)


# -- enrolment ---------------------------------------------------------------------------------


async def _cohorts(api: Api) -> list[dict[str, Any]]:
    cohorts = await api.get("enrolment", "/v1/cohorts")
    return [c for c in cohorts if c.get("open_for_enrolment")]


@router.get("/trainers/new")
async def enrol_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    api = visit.api()
    school = await api.get("enrolment", f"/v1/schools/{school_id}")
    return render(
        visit,
        "enrol.html",
        school=school,
        cohorts=await _cohorts(api),
        values={"languages": [], "gender": "undisclosed", "key": new_idempotency_key()},
        genders=GENDERS,
        language_codes=LANGUAGE_CODES,
    )


@router.post("/trainers/new")
async def enrol(school_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    form = await visit.form()
    api = visit.api()
    body = {
        "school_id": str(school_id),
        "cohort_id": form.get("cohort_id") or None,
        "first_name": form.get("first_name", ""),
        "last_name": form.get("last_name", ""),
        "grade": whole(form.get("grade")),
        "gender": form.get("gender") or "undisclosed",
        "languages": as_list(form.get("languages")),
        "guardian_consent": {
            "guardian_name": form.get("guardian_consent.guardian_name", ""),
            "given_on": form.get("guardian_consent.given_on") or None,
        },
        "enrolled_on": form.get("enrolled_on") or None,
    }
    trainer, problem = await api.create(
        "enrolment", "/v1/trainers", answered(body), str(form.get("key") or "")
    )
    if problem is not None:
        school = await api.get("enrolment", f"/v1/schools/{school_id}")
        values = {**form, "languages": as_list(form.get("languages"))}
        values["key"] = new_idempotency_key()  # what is corrected is a new request
        return render(
            visit,
            "enrol.html",
            status=422,
            errors=field_messages(problem, visit.words, ENROL_FIELDS),
            school=school,
            cohorts=await _cohorts(api),
            values=values,
            genders=GENDERS,
            language_codes=LANGUAGE_CODES,
        )
    return RedirectResponse(
        f"/schools/{school_id}/trainers/{trainer['id']}?enrolled=1", status_code=303
    )


# -- one trainer -------------------------------------------------------------------------------


async def _trainer_page(
    visit: Visit, school_id: uuid.UUID, trainer_id: uuid.UUID, **context: Any
) -> HTMLResponse:
    api = visit.api()
    trainer = await api.get("enrolment", f"/v1/trainers/{trainer_id}")
    if trainer["school_id"] != str(school_id):
        raise ApiProblem(404, "Not found")
    progress, modules = await asyncio.gather(
        progress_of(api, str(trainer_id)), api.get("sessions", "/v1/modules")
    )
    status = context.pop("status", 200)
    return render(
        visit,
        "trainer.html",
        status=status,
        trainer=trainer,
        name=name_of(trainer),
        progress=progress,
        modules={m["id"]: m for m in modules},
        reasons=WITHDRAWAL_REASONS,
        **context,
    )


@router.get("/trainers/{trainer_id}")
async def trainer_page(
    school_id: uuid.UUID,
    trainer_id: uuid.UUID,
    visit: Visitor,
    enrolled: bool = False,
    withdrawn: bool = False,
    corrected: bool = False,
) -> HTMLResponse:
    visit.school(school_id)
    return await _trainer_page(
        visit,
        school_id,
        trainer_id,
        enrolled=enrolled,
        withdrawn=withdrawn,
        corrected=corrected,
    )


async def _name_page(
    visit: Visit, school_id: uuid.UUID, trainer_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    trainer = await visit.api().get("enrolment", f"/v1/trainers/{trainer_id}")
    if trainer["school_id"] != str(school_id):
        raise ApiProblem(404, "Not found")
    context.setdefault("values", trainer)
    return render(
        visit, "name.html", status=status, trainer=trainer, name=name_of(trainer), **context
    )


@router.get("/trainers/{trainer_id}/name")
async def name_page(school_id: uuid.UUID, trainer_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    return await _name_page(visit, school_id, trainer_id)


@router.post("/trainers/{trainer_id}/name")
async def correct_name(school_id: uuid.UUID, trainer_id: uuid.UUID, visit: Visitor) -> Response:
    """A mistyped name corrected (enrolment's PATCH; names never leave enrolment)."""
    visit.school(school_id)
    form = await visit.form()
    body = {"first_name": form.get("first_name", ""), "last_name": form.get("last_name", "")}
    try:
        await visit.api().patch("enrolment", f"/v1/trainers/{trainer_id}", body)
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        errors = field_messages(problem, visit.words, {"first_name", "last_name"})
        return await _name_page(visit, school_id, trainer_id, 422, errors=errors, values=form)
    return RedirectResponse(
        f"/schools/{school_id}/trainers/{trainer_id}?corrected=1", status_code=303
    )


@router.post("/trainers/{trainer_id}/withdrawal")
async def withdraw(school_id: uuid.UUID, trainer_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    form = await visit.form()
    body = answered({"reason": form.get("reason"), "withdrawn_on": form.get("withdrawn_on")})
    try:
        await visit.api().post("enrolment", f"/v1/trainers/{trainer_id}/withdrawal", body)
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        return await _trainer_page(
            visit,
            school_id,
            trainer_id,
            status=422,
            errors=field_messages(problem, visit.words, {"reason", "withdrawn_on"}),
            values=form,
        )
    return RedirectResponse(
        f"/schools/{school_id}/trainers/{trainer_id}?withdrawn=1", status_code=303
    )


# -- module completions for several trainers at once -------------------------------------------


async def _completions_page(
    visit: Visit, school_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    api = visit.api()
    (school, trainers), modules = await asyncio.gather(
        school_and_trainers(api, school_id, status="active"), api.get("sessions", "/v1/modules")
    )
    context.setdefault("values", {"trainer_ids": [], "completed_on": date.today().isoformat()})
    return render(
        visit,
        "completions.html",
        status=status,
        school=school,
        trainers=[{"id": t["id"], "name": name_of(t)} for t in trainers],
        modules=modules,
        **context,
    )


@router.get("/completions")
async def completions_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    return await _completions_page(visit, school_id)


@router.post("/completions")
async def record_completions(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    """One module, one date, several trainers: one request per trainer, each recorded or
    refused on its own (the page says which)."""
    visit.school(school_id)
    form = await visit.form()
    values = {**form, "trainer_ids": as_list(form.get("trainer_ids"))}
    if not values["trainer_ids"]:
        error = FieldMessage("trainer_ids", visit.words("completions.none_ticked"))
        return await _completions_page(visit, school_id, 422, errors=[error], values=values)
    api = visit.api()
    body = answered({"module_id": form.get("module_id"), "completed_on": form.get("completed_on")})

    async def record(trainer_id: str) -> tuple[str, str | None]:
        try:
            await api.post("sessions", f"/v1/trainers/{trainer_id}/module-completions", body)
            return trainer_id, None
        except ApiProblem as problem:
            if problem.status not in (403, 404, 409, 422):
                raise
            said = field_messages(problem, visit.words, {"module_id", "completed_on"})
            return trainer_id, "; ".join(m.text for m in said)

    outcomes = await asyncio.gather(*(record(t) for t in values["trainer_ids"]))
    recorded = [t for t, refused in outcomes if refused is None]
    refused = {t: why for t, why in outcomes if why is not None}
    return await _completions_page(
        visit,
        school_id,
        200 if not refused else 422,
        values={**values, "trainer_ids": list(refused)},
        recorded=recorded,
        refused=refused,
    )


# -- peer sessions -----------------------------------------------------------------------------


@router.get("/sessions")
async def sessions_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    api = visit.api()
    school, sessions, modules = await asyncio.gather(
        api.get("enrolment", f"/v1/schools/{school_id}"),
        api.every("sessions", "/v1/sessions", school_id=str(school_id)),
        api.get("sessions", "/v1/modules"),
    )
    sessions.sort(key=lambda s: s.get("planned_on") or s["created_at"], reverse=True)
    return render(
        visit,
        "sessions.html",
        school=school,
        sessions=sessions,
        modules={m["id"]: m for m in modules},
    )


async def _plan_page(
    visit: Visit, school_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    api = visit.api()
    (school, trainers), modules = await asyncio.gather(
        school_and_trainers(api, school_id, status="active"), api.get("sessions", "/v1/modules")
    )
    context.setdefault(
        "values", {"facilitator_ids": [], "language": "kk", "key": new_idempotency_key()}
    )
    return render(
        visit,
        "plan.html",
        status=status,
        school=school,
        trainers=[{"id": t["id"], "name": name_of(t)} for t in trainers],
        modules=modules,
        language_codes=LANGUAGE_CODES,
        **context,
    )


@router.get("/sessions/new")
async def plan_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    return await _plan_page(visit, school_id)


@router.post("/sessions/new")
async def plan(school_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    form = await visit.form()
    body = answered(
        {
            "school_id": str(school_id),
            "topic_module_id": form.get("topic_module_id"),
            "language": form.get("language"),
            "planned_on": form.get("planned_on"),
        }
    )
    # An empty list is sent as one, so that the service says "choose at least one".
    body["facilitator_ids"] = as_list(form.get("facilitator_ids"))
    session, problem = await visit.api().create(
        "sessions", "/v1/sessions", body, str(form.get("key") or "")
    )
    if problem is not None:
        values = {
            **form,
            "facilitator_ids": as_list(form.get("facilitator_ids")),
            "key": new_idempotency_key(),
        }
        errors = field_messages(problem, visit.words, PLAN_FIELDS)
        return await _plan_page(visit, school_id, 422, errors=errors, values=values)
    return RedirectResponse(f"/schools/{school_id}/sessions/{session['id']}", status_code=303)


async def _session_page(
    visit: Visit, school_id: uuid.UUID, session_id: uuid.UUID, status: int = 200, **context: Any
) -> HTMLResponse:
    api = visit.api()
    session, modules, (_, trainers) = await asyncio.gather(
        api.get("sessions", f"/v1/sessions/{session_id}"),
        api.get("sessions", "/v1/modules"),
        school_and_trainers(api, school_id),
    )
    if session["school_id"] != str(school_id):
        raise ApiProblem(404, "Not found")
    names = {t["id"]: name_of(t) for t in trainers}
    context.setdefault("values", {})
    return render(
        visit,
        "session.html",
        status=status,
        session=session,
        module=next((m for m in modules if m["id"] == session["topic_module_id"]), None),
        facilitators=[names.get(f, f) for f in session["facilitator_ids"]],
        reasons=CANCELLATION_REASONS,
        grades=PEER_GRADES,
        **context,
    )


@router.get("/sessions/{session_id}")
async def session_page(school_id: uuid.UUID, session_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    return await _session_page(visit, school_id, session_id)


@router.post("/sessions/{session_id}/completion")
async def record_outcome(school_id: uuid.UUID, session_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    form = await visit.form()
    by_grade = {
        grade: whole(form.get(f"participants.by_grade.{grade}"))
        for grade in PEER_GRADES
        if str(form.get(f"participants.by_grade.{grade}", "")).strip()
    }
    body = {
        "delivered_on": form.get("delivered_on"),
        "duration_minutes": whole(form.get("duration_minutes")),
        "participants": {
            "total": whole(form.get("participants.total")),
            "female": whole(form.get("participants.female")) or 0,
            "male": whole(form.get("participants.male")) or 0,
            "by_grade": by_grade,
        },
        "feedback": {
            "responses": whole(form.get("feedback.responses")) or 0,
            "average_rating": whole(form.get("feedback.average_rating")),
        },
    }
    try:
        await visit.api().post("sessions", f"/v1/sessions/{session_id}/completion", answered(body))
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        errors = field_messages(problem, visit.words, OUTCOME_FIELDS)
        return await _session_page(visit, school_id, session_id, 422, errors=errors, values=form)
    return RedirectResponse(f"/schools/{school_id}/sessions/{session_id}", status_code=303)


@router.post("/sessions/{session_id}/cancellation")
async def cancel(school_id: uuid.UUID, session_id: uuid.UUID, visit: Visitor) -> Response:
    visit.school(school_id)
    form = await visit.form()
    body = answered({"reason": form.get("reason"), "note": form.get("note")})
    try:
        await visit.api().post("sessions", f"/v1/sessions/{session_id}/cancellation", body)
    except ApiProblem as problem:
        if problem.status not in (409, 422):
            raise
        errors = field_messages(problem, visit.words, {"reason", "note"})
        return await _session_page(visit, school_id, session_id, 422, errors=errors, values=form)
    return RedirectResponse(f"/schools/{school_id}/sessions/{session_id}", status_code=303)


# -- figures -----------------------------------------------------------------------------------


@router.get("/figures")
async def figures_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    api = visit.api()
    try:
        summary = await api.get("reporting", f"/v1/schools/{school_id}/summary")
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        summary = None  # reporting has not heard of the school yet
    school = await api.get("enrolment", f"/v1/schools/{school_id}")
    return render(visit, "figures.html", school=school, summary=summary)


# -- mail sent to the school --------------------------------------------------------------------


@router.get("/mail")
async def mail_page(school_id: uuid.UUID, visit: Visitor) -> HTMLResponse:
    visit.school(school_id)
    api = visit.api()
    school, contact, sent = await asyncio.gather(
        api.get("enrolment", f"/v1/schools/{school_id}"),
        api.get("enrolment", f"/v1/schools/{school_id}/coordinator"),
        api.get("notifications", "/v1/mail", school_id=str(school_id), limit=100),
    )
    return render(
        visit,
        "mail.html",
        school=school,
        contact=contact,
        mails=sent["items"],
        total=sent["total"],
    )
