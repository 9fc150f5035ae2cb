"""Planning, completing and cancelling peer sessions over HTTP: each rule of the design
allowed and denied, each role, and that bad input stores and publishes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import nats
import pytest

from tests.support.services import eventually
from tests.support.sessions_roster import (
    CANCELLED,
    COMPLETED,
    Enrolment,
    School,
    almaty_today,
    assert_problem,
    certify,
    completion,
    coordinator_token,
    on_roster,
    plan,
    school_with_trainers,
    staged,
    withdrawn_on_roster,
)


@dataclass(frozen=True)
class Cast:
    """A school with certified trainers, one not yet certified and one withdrawn after
    certification; and a certified trainer of another school."""

    school: School
    certified: list[uuid.UUID]
    uncertified: uuid.UUID
    withdrawn: uuid.UUID
    other_school: School

    @property
    def other_schools_trainer(self) -> uuid.UUID:
        return self.other_school.trainers[0]


@pytest.fixture(scope="module")
async def cast(sessions: httpx.AsyncClient, provisioned: str) -> AsyncIterator[Cast]:
    nc = await nats.connect(provisioned)
    try:
        enrolment = Enrolment(nc.jetstream())
        school = await school_with_trainers(enrolment, sessions, trainers=6)
        other = await school_with_trainers(enrolment, sessions, trainers=1)
        *certified, uncertified, withdrawn = school.trainers
        for trainer_id in [*certified, withdrawn, other.trainers[0]]:
            await certify(sessions, trainer_id)
        await enrolment.withdraw(withdrawn, school.id)
        await withdrawn_on_roster(sessions, withdrawn)
        yield Cast(school, certified, uncertified, withdrawn, other)
    finally:
        await nc.close()


async def planned(client: httpx.AsyncClient, cast: Cast, n: int = 1, **changes: Any) -> dict:
    response = await client.post(
        "/v1/sessions", json=plan(cast.school.id, cast.certified[:n], **changes)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def progress_of(client: httpx.AsyncClient, trainer_id: uuid.UUID) -> dict[str, Any]:
    response = await client.get(f"/v1/trainers/{trainer_id}/progress")
    assert response.status_code == 200, response.text
    progress: dict[str, Any] = response.json()
    return progress


async def test_a_planned_session_is_listed_and_fetched_and_publishes_nothing_yet(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    before = len(await staged(sessions))

    session = await planned(sessions, cast, n=2)

    assert session["status"] == "planned"
    assert session["facilitator_ids"] == [str(t) for t in cast.certified[:2]]
    assert session["participants"] is None
    fetched = await sessions.get(f"/v1/sessions/{session['id']}")
    assert fetched.json() == session
    listed = await sessions.get(
        "/v1/sessions", params={"school_id": str(cast.school.id), "status": "planned"}
    )
    assert session["id"] in [s["id"] for s in listed.json()["items"]]
    by_trainer = await sessions.get("/v1/sessions", params={"trainer_id": str(cast.certified[1])})
    assert session["id"] in [s["id"] for s in by_trainer.json()["items"]]
    assert len(await staged(sessions)) == before


async def test_a_completed_session_records_the_attendance_and_stages_session_completed(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast, n=2)
    body = completion(language="ru")
    before = {t: await progress_of(sessions, t) for t in cast.certified[:2]}

    response = await sessions.post(f"/v1/sessions/{session['id']}/completion", json=body)

    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "completed"
    assert done["participants"] == body["participants"]
    assert done["feedback"] == body["feedback"]
    assert done["language"] == "ru"
    events = [e for e in await staged(sessions, COMPLETED) if e.data["session_id"] == session["id"]]
    assert [e.data for e in events] == [
        {
            "session_id": session["id"],
            "school_id": str(cast.school.id),
            "facilitator_ids": session["facilitator_ids"],
            "topic_module_id": "stereotypes-and-prejudice",
            "language": "ru",
            "delivered_on": body["delivered_on"],
            "duration_minutes": 45,
            "participants": body["participants"],
            "feedback": body["feedback"],
        }
    ]
    for trainer_id in cast.certified[:2]:
        progress = await progress_of(sessions, trainer_id)
        earlier = before[trainer_id]
        assert progress["sessions_facilitated"] == earlier["sessions_facilitated"] + 1
        assert progress["peer_participations"] == earlier["peer_participations"] + 24


async def test_a_session_without_feedback_forms_completes_with_no_rating(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    body = completion()
    del body["feedback"]

    response = await sessions.post(f"/v1/sessions/{session['id']}/completion", json=body)

    assert response.status_code == 200, response.text
    assert response.json()["feedback"] == {"responses": 0, "average_rating": None}


async def test_a_session_completes_once_and_is_not_cancelled_afterwards(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    path = f"/v1/sessions/{session['id']}"
    assert (await sessions.post(f"{path}/completion", json=completion())).status_code == 200
    before = len(await staged(sessions))

    again = await sessions.post(f"{path}/completion", json=completion())
    cancel = await sessions.post(f"{path}/cancellation", json={"reason": "other"})

    assert_problem(again, 409, "status", "once")
    assert_problem(cancel, 409, "status", "once")
    assert len(await staged(sessions)) == before
    assert (await sessions.get(path)).json()["status"] == "completed"


async def test_a_cancelled_session_stages_session_cancelled_and_never_completes(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    path = f"/v1/sessions/{session['id']}"

    response = await sessions.post(f"{path}/cancellation", json={"reason": "school_closure"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["cancellation_reason"] == "school_closure"
    events = [e for e in await staged(sessions, CANCELLED) if e.data["session_id"] == session["id"]]
    assert len(events) == 1
    assert events[0].data["reason"] == "school_closure"
    assert events[0].data["school_id"] == str(cast.school.id)
    before = len(await staged(sessions))
    assert_problem(
        await sessions.post(f"{path}/completion", json=completion()), 409, "status", "once"
    )
    assert_problem(
        await sessions.post(f"{path}/cancellation", json={"reason": "other"}),
        409,
        "status",
        "once",
    )
    assert len(await staged(sessions)) == before


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ({"reason": "Aruzhan Abenova was ill"}, "enum"),
        ({"reason": "School closed for a public holiday."}, "enum"),
        ({"reason": "   "}, "enum"),
        ({"note": "The hall is taken."}, "missing"),
    ],
)
async def test_a_cancellation_reason_is_one_of_the_codes_never_a_sentence(
    sessions: httpx.AsyncClient, cast: Cast, body: dict, rule: str
) -> None:
    session = await planned(sessions, cast)
    before = len(await staged(sessions))

    response = await sessions.post(f"/v1/sessions/{session['id']}/cancellation", json=body)

    problem = assert_problem(response, 422, "reason", rule)
    if rule == "enum":
        assert "school_closure" in problem["detail"]
    assert len(await staged(sessions)) == before
    assert (await sessions.get(f"/v1/sessions/{session['id']}")).json()["status"] == "planned"


async def test_a_cancellation_note_is_kept_for_staff_and_never_published(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    path = f"/v1/sessions/{session['id']}"
    note = "Aruzhan Abenova was ill and nobody else could run it."

    response = await sessions.post(
        f"{path}/cancellation", json={"reason": "facilitator_unavailable", "note": note}
    )

    assert response.status_code == 200, response.text
    fetched = (await sessions.get(path)).json()
    assert fetched["cancellation_reason"] == "facilitator_unavailable"
    assert fetched["cancellation_note"] == note
    (event,) = [e for e in await staged(sessions) if e.data.get("session_id") == session["id"]]
    assert event.event_type == CANCELLED
    assert set(event.data) == {"session_id", "school_id", "reason", "cancelled_at"}
    assert event.data["reason"] == "facilitator_unavailable"
    assert "Aruzhan" not in json.dumps(event.data)


async def test_a_cancellation_note_longer_than_500_characters_is_refused(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    before = len(await staged(sessions))

    response = await sessions.post(
        f"/v1/sessions/{session['id']}/cancellation", json={"reason": "other", "note": "x" * 501}
    )

    assert_problem(response, 422, "note", "string_too_long")
    assert len(await staged(sessions)) == before
    assert (await sessions.get(f"/v1/sessions/{session['id']}")).json()["status"] == "planned"


async def test_erasing_a_facilitator_clears_the_notes_of_their_cancelled_sessions(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions, trainers=2)
    erased, stays = school.trainers
    for trainer_id in school.trainers:
        await certify(sessions, trainer_id)
    theirs = (await sessions.post("/v1/sessions", json=plan(school.id, [erased]))).json()
    others = (await sessions.post("/v1/sessions", json=plan(school.id, [stays]))).json()
    for session in (theirs, others):
        cancelled = await sessions.post(
            f"/v1/sessions/{session['id']}/cancellation",
            json={"reason": "facilitator_unavailable", "note": "A trainer was ill."},
        )
        assert cancelled.status_code == 200, cancelled.text

    await enrolment_events.erase(erased)

    async def note_cleared() -> dict | None:
        found = (await sessions.get(f"/v1/sessions/{theirs['id']}")).json()
        return found if found["cancellation_note"] is None else None

    found = await eventually(note_cleared, timeout=30)
    assert found["cancellation_reason"] == "facilitator_unavailable"
    assert found["status"] == "cancelled"
    kept = (await sessions.get(f"/v1/sessions/{others['id']}")).json()
    assert kept["cancellation_note"] == "A trainer was ill."


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"participants": {"total": 0}}, "participants.total", "greater_than_equal"),
        ({"participants": {"total": 61}}, "participants.total", "less_than_equal"),
        (
            {"participants": {"total": 20, "female": 12, "male": 9}},
            "participants.female",
            "female_plus_male_within_total",
        ),
        (
            {"participants": {"total": 20, "by_grade": {"8": 15, "9": 6}}},
            "participants.by_grade",
            "within_total",
        ),
        (
            {"participants": {"total": 20, "by_grade": {"12": 5}}},
            "participants.by_grade.12.[key]",
            "string_pattern_mismatch",
        ),
        (
            {"feedback": {"responses": 10, "average_rating": 6}},
            "feedback.average_rating",
            "less_than_equal",
        ),
        (
            {"feedback": {"responses": 10, "average_rating": 0.5}},
            "feedback.average_rating",
            "greater_than_equal",
        ),
        (
            {"feedback": {"responses": 30, "average_rating": 4}},
            "feedback.responses",
            "within_participants",
        ),
        (
            {"feedback": {"responses": 0, "average_rating": 4}},
            "feedback.average_rating",
            "null_without_responses",
        ),
        (
            {"feedback": {"responses": 5}},
            "feedback.average_rating",
            "required_with_responses",
        ),
        ({"duration_minutes": 0}, "duration_minutes", "greater_than_equal"),
        ({"duration_minutes": 481}, "duration_minutes", "less_than_equal"),
        ({"language": "kazakh"}, "language", "string_pattern_mismatch"),
        ({"delivered_on": None}, "delivered_on", "iso_date"),
        ({"delivered_on": 0}, "delivered_on", "iso_date"),
        ({"delivered_on": "0"}, "delivered_on", "iso_date"),
        ({"delivered_on": "2025-03-14T00:00:00"}, "delivered_on", "iso_date"),
        ({"delivered_on": "14.03.2025"}, "delivered_on", "iso_date"),
        ({"delivered_on": "0001-01-01"}, "delivered_on", "within_cohort"),
        ({"facilitator_ids": []}, "facilitator_ids", "too_short"),
    ],
)
async def test_bad_completion_gets_a_problem_naming_the_field_and_rule_and_changes_nothing(
    sessions: httpx.AsyncClient, cast: Cast, changes: dict, field: str, rule: str
) -> None:
    session = await planned(sessions, cast)
    before = len(await staged(sessions))

    response = await sessions.post(
        f"/v1/sessions/{session['id']}/completion", json=completion(**changes)
    )

    problem = assert_problem(response, 422, field, rule)
    assert field.split(".")[0] in problem["detail"]
    assert len(await staged(sessions)) == before
    assert (await sessions.get(f"/v1/sessions/{session['id']}")).json()["status"] == "planned"


async def test_a_session_cannot_be_recorded_before_it_took_place(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)
    tomorrow = almaty_today() + timedelta(days=1)

    response = await sessions.post(
        f"/v1/sessions/{session['id']}/completion",
        json=completion(delivered_on=tomorrow.isoformat()),
    )

    assert_problem(response, 422, "delivered_on", "not_in_future")
    assert (await sessions.get(f"/v1/sessions/{session['id']}")).json()["status"] == "planned"


@pytest.mark.parametrize("side", ["before", "after"])
async def test_a_session_falls_inside_the_facilitators_cohort(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment, side: str
) -> None:
    # A cohort that ended last week, and one that started yesterday.
    today = almaty_today()
    if side == "before":
        starts_on, ends_on = today - timedelta(days=1), today + timedelta(days=300)
        outside = today - timedelta(days=2)
    else:
        starts_on, ends_on = today - timedelta(days=300), today - timedelta(days=7)
        outside = today - timedelta(days=6)
    inside = starts_on if side == "before" else ends_on
    school_id = await enrolment_events.school()
    cohort_id = await enrolment_events.cohort(starts_on, ends_on)
    trainer_id = await enrolment_events.trainer(school_id, cohort_id)
    await on_roster(sessions, trainer_id)
    await certify(sessions, trainer_id)
    created = await sessions.post(
        "/v1/sessions", json=plan(school_id, [trainer_id], planned_on=inside.isoformat())
    )
    session_id = created.json()["id"]
    path = f"/v1/sessions/{session_id}/completion"

    refused = await sessions.post(path, json=completion(delivered_on=outside.isoformat()))

    problem = assert_problem(refused, 422, "delivered_on", "within_cohort")
    assert str(ends_on) in problem["detail"]
    accepted = await sessions.post(path, json=completion(delivered_on=inside.isoformat()))
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize(
    ("planned_on", "rule"),
    [
        ("before the cohort", "within_cohort"),
        ("after the cohort", "within_cohort"),
        ("0001-01-01", "within_cohort"),
        ("9999-12-31", "within_cohort"),
        ("0", "iso_date"),
        (0, "iso_date"),
        ("2025-03-14T10:00:00", "iso_date"),
        ("14.03.2025", "iso_date"),
        ("2025-02-30", "date_from_datetime_parsing"),
    ],
)
async def test_a_session_is_planned_for_an_iso_day_inside_the_facilitators_cohort(
    sessions: httpx.AsyncClient, cast: Cast, planned_on: object, rule: str
) -> None:
    day = {
        "before the cohort": cast.school.starts_on - timedelta(days=1),
        "after the cohort": cast.school.ends_on + timedelta(days=1),
    }.get(str(planned_on))
    body = plan(
        cast.school.id, cast.certified[:1], planned_on=day.isoformat() if day else planned_on
    )
    listed = await sessions.get("/v1/sessions", params={"school_id": str(cast.school.id)})

    response = await sessions.post("/v1/sessions", json=body)

    problem = assert_problem(response, 422, "planned_on", rule)
    assert "planned_on" in problem["detail"]
    after = await sessions.get("/v1/sessions", params={"school_id": str(cast.school.id)})
    assert after.json()["total"] == listed.json()["total"]


async def test_a_session_may_be_planned_on_the_first_and_last_day_of_the_cohort(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    for day in (cast.school.starts_on, cast.school.ends_on):
        response = await sessions.post(
            "/v1/sessions",
            json=plan(cast.school.id, cast.certified[:1], planned_on=day.isoformat()),
        )
        assert response.status_code == 201, response.text
        assert response.json()["planned_on"] == day.isoformat()


@pytest.mark.parametrize(
    ("who", "rule"),
    [
        ("nobody", "too_short"),
        ("four", "too_long"),
        ("the same twice", "distinct"),
        ("a stranger", "enrolled"),
        ("withdrawn", "active"),
        ("of another school", "same_school"),
        ("not certified", "certified"),
    ],
)
async def test_facilitators_are_one_to_three_enrolled_active_certified_trainers_of_the_school(
    sessions: httpx.AsyncClient, cast: Cast, who: str, rule: str
) -> None:
    one = cast.certified[0]
    facilitators = {
        "nobody": [],
        "four": [*cast.certified[:3], cast.uncertified],
        "the same twice": [one, one],
        "a stranger": [one, uuid.uuid4()],
        "withdrawn": [one, cast.withdrawn],
        "of another school": [one, cast.other_schools_trainer],
        "not certified": [one, cast.uncertified],
    }[who]
    before = await sessions.get("/v1/sessions", params={"school_id": str(cast.school.id)})

    response = await sessions.post("/v1/sessions", json=plan(cast.school.id, facilitators))

    problem = assert_problem(response, 422, "facilitator_ids", rule)
    if rule == "enrolled":
        assert "may not have arrived yet" in problem["detail"]
    if rule == "certified":
        assert "0 of 6 core modules" in problem["detail"]
    after = await sessions.get("/v1/sessions", params={"school_id": str(cast.school.id)})
    assert after.json()["total"] == before.json()["total"]


async def test_three_certified_trainers_of_the_school_may_run_a_session_together(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast, n=3)
    assert session["facilitator_ids"] == [str(t) for t in cast.certified[:3]]


async def test_a_facilitator_withdrawn_after_planning_cannot_run_the_session(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions, trainers=2)
    for trainer_id in school.trainers:
        await certify(sessions, trainer_id)
    created = await sessions.post("/v1/sessions", json=plan(school.id, school.trainers))
    session_id = created.json()["id"]
    await enrolment_events.withdraw(school.trainers[1], school.id)
    await withdrawn_on_roster(sessions, school.trainers[1])
    path = f"/v1/sessions/{session_id}/completion"

    refused = await sessions.post(path, json=completion())

    assert_problem(refused, 422, "facilitator_ids", "active")
    # Recorded with the facilitator who actually ran it.
    accepted = await sessions.post(path, json=completion(facilitator_ids=[str(school.trainers[0])]))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["facilitator_ids"] == [str(school.trainers[0])]
    (event,) = [e for e in await staged(sessions, COMPLETED) if e.data["session_id"] == session_id]
    assert event.data["facilitator_ids"] == [str(school.trainers[0])]


async def test_facilitators_named_at_completion_must_be_certified_too(
    sessions: httpx.AsyncClient, cast: Cast
) -> None:
    session = await planned(sessions, cast)

    response = await sessions.post(
        f"/v1/sessions/{session['id']}/completion",
        json=completion(facilitator_ids=[str(cast.uncertified)]),
    )

    assert_problem(response, 422, "facilitator_ids", "certified")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"school_id": str(uuid.uuid4())}, "school_id", "registered"),
        ({"topic_module_id": "astrophysics"}, "topic_module_id", "exists"),
        ({"language": "KK"}, "language", "string_pattern_mismatch"),
    ],
)
async def test_a_plan_names_a_registered_school_and_a_curriculum_module(
    sessions: httpx.AsyncClient, cast: Cast, changes: dict, field: str, rule: str
) -> None:
    body = {**plan(cast.school.id, cast.certified[:1]), **changes}

    response = await sessions.post("/v1/sessions", json=body)

    problem = assert_problem(response, 422, field, rule)
    if rule == "registered":
        assert "may not have arrived yet" in problem["detail"]


async def test_an_unknown_session_is_404(sessions: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    for response in (
        await sessions.get(f"/v1/sessions/{missing}"),
        await sessions.post(f"/v1/sessions/{missing}/completion", json=completion()),
        await sessions.post(f"/v1/sessions/{missing}/cancellation", json={"reason": "other"}),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_coordinator_records_sessions_only_for_their_own_school(
    sessions: httpx.AsyncClient, cast: Cast, provisioned: str
) -> None:
    ours = await coordinator_token(provisioned, cast.school.id)
    theirs = await coordinator_token(provisioned, cast.other_school.id)

    created = await sessions.post(
        "/v1/sessions", json=plan(cast.school.id, cast.certified[:1]), headers=ours
    )
    assert created.status_code == 201, created.text
    path = f"/v1/sessions/{created.json()['id']}"
    before = len(await staged(sessions))

    denied = [
        await sessions.post(
            "/v1/sessions", json=plan(cast.school.id, cast.certified[:1]), headers=theirs
        ),
        await sessions.get(path, headers=theirs),
        await sessions.post(f"{path}/completion", json=completion(), headers=theirs),
        await sessions.post(f"{path}/cancellation", json={"reason": "other"}, headers=theirs),
        await sessions.get(
            "/v1/sessions", params={"school_id": str(cast.school.id)}, headers=theirs
        ),
    ]
    for response in denied:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert len(await staged(sessions)) == before
    assert (await sessions.get(path, headers=ours)).json()["status"] == "planned"

    their_list = (await sessions.get("/v1/sessions", headers=theirs)).json()
    assert all(s["school_id"] == str(cast.other_school.id) for s in their_list["items"])
    our_list = (await sessions.get("/v1/sessions", headers=ours)).json()
    assert created.json()["id"] in [s["id"] for s in our_list["items"]]
    assert all(s["school_id"] == str(cast.school.id) for s in our_list["items"])

    completed = await sessions.post(f"{path}/completion", json=completion(), headers=ours)
    assert completed.status_code == 200, completed.text


async def test_a_coordinator_cancels_their_own_schools_session(
    sessions: httpx.AsyncClient, cast: Cast, provisioned: str
) -> None:
    ours = await coordinator_token(provisioned, cast.school.id)
    session = await planned(sessions, cast)

    response = await sessions.post(
        f"/v1/sessions/{session['id']}/cancellation",
        json={"reason": "schedule_conflict", "note": "Exams all week."},
        headers=ours,
    )

    assert response.status_code == 200, response.text
    assert response.json()["cancellation_reason"] == "schedule_conflict"
    assert response.json()["cancellation_note"] == "Exams all week."


async def test_admin_lists_every_schools_sessions(sessions: httpx.AsyncClient, cast: Cast) -> None:
    ours = await planned(sessions, cast)
    other = await sessions.post(
        "/v1/sessions", json=plan(cast.other_school.id, [cast.other_schools_trainer])
    )
    assert other.status_code == 201, other.text

    listed = await sessions.get("/v1/sessions", params={"limit": 500})

    ids = [s["id"] for s in listed.json()["items"]]
    assert ours["id"] in ids
    assert other.json()["id"] in ids
