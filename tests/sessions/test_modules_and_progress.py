"""The curriculum, module completions and a trainer's progress over HTTP, with the roster
arriving through the real broker: the rules, the problems a person sees, and that bad input
stores and publishes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import TypeAdapter
from yts_contracts.vocabulary import ModuleSlug

from tests.support.services import eventually
from tests.support.sessions_roster import (
    CORE_MODULES,
    MODULE_COMPLETED,
    Enrolment,
    almaty_today,
    assert_problem,
    certify,
    coordinator_token,
    milestones_of,
    on_roster,
    partner_token,
    school_with_trainers,
    staged,
    withdrawn_on_roster,
)

SLUG: TypeAdapter[str] = TypeAdapter(ModuleSlug)


async def roster_duplicates(sessions: httpx.AsyncClient) -> float:
    """Roster events the inbox dropped as already applied, from the service's /metrics."""
    text = (await sessions.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "yts_events_handled_total" and sample.labels == {
                "service": "sessions",
                "consumer": "sessions-roster",
                "outcome": "duplicate",
            }:
                return sample.value
    return 0.0


def completion_path(trainer_id: uuid.UUID) -> str:
    return f"/v1/trainers/{trainer_id}/module-completions"


async def test_the_curriculum_lists_six_core_modules_with_names_in_kazakh_russian_and_english(
    sessions: httpx.AsyncClient,
) -> None:
    response = await sessions.get("/v1/modules")
    assert response.status_code == 200
    modules = response.json()
    assert len(modules) == 6
    assert all(m["core"] for m in modules)
    assert [m["id"] for m in modules] == CORE_MODULES
    for module in modules:
        assert SLUG.validate_python(module["id"]) == module["id"]
        assert all(module["names"][locale].strip() for locale in ("kk", "ru", "en"))
    assert "intercultural-communication" in CORE_MODULES


async def test_a_completed_module_shows_in_progress_and_stages_module_completed(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions)
    (dana,) = school.trainers
    yesterday = almaty_today() - timedelta(days=1)

    response = await sessions.post(
        completion_path(dana),
        json={"module_id": "culture-and-identity", "completed_on": yesterday.isoformat()},
    )

    assert response.status_code == 201, response.text
    assert response.json() == {
        "trainer_id": str(dana),
        "module_id": "culture-and-identity",
        "completed_on": yesterday.isoformat(),
        "certified": False,
    }
    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["modules_completed"] == [
        {"module_id": "culture-and-identity", "completed_on": yesterday.isoformat()}
    ]
    assert progress["core_modules_completed"] == 1
    assert progress["core_modules_total"] == 6
    assert progress["certified"] is False
    assert progress["school_id"] == str(school.id)
    events = [
        e for e in await staged(sessions, MODULE_COMPLETED) if e.data["trainer_id"] == str(dana)
    ]
    assert [e.data for e in events] == [
        {
            "trainer_id": str(dana),
            "school_id": str(school.id),
            "module_id": "culture-and-identity",
            "completed_on": yesterday.isoformat(),
        }
    ]


async def test_a_module_completes_once_per_trainer(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    first = await sessions.post(completion_path(dana), json={"module_id": "culture-and-identity"})
    assert first.status_code == 201
    before = len(await staged(sessions))

    again = await sessions.post(completion_path(dana), json={"module_id": "culture-and-identity"})

    assert_problem(again, 409, "module_id", "once_per_trainer")
    assert len(await staged(sessions)) == before


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"module_id": "astrophysics"}, "module_id", "exists"),
        ({"module_id": "Culture And Identity"}, "module_id", "string_pattern_mismatch"),
        ({}, "module_id", "missing"),
        (
            {"module_id": "culture-and-identity", "completed_on": "26-11-2026"},
            "completed_on",
            "iso_date",
        ),
        ({"module_id": "culture-and-identity", "completed_on": 0}, "completed_on", "iso_date"),
        ({"module_id": "culture-and-identity", "completed_on": "0"}, "completed_on", "iso_date"),
        (
            {"module_id": "culture-and-identity", "completed_on": "2025-03-14T00:00:00"},
            "completed_on",
            "iso_date",
        ),
        (
            {"module_id": "culture-and-identity", "completed_on": "0001-01-01"},
            "completed_on",
            "not_before_cohort",
        ),
        ({"module_id": "culture-and-identity", "extra": 1}, "extra", "extra_forbidden"),
    ],
)
async def test_bad_module_completion_gets_a_problem_naming_the_field_and_stores_nothing(
    sessions: httpx.AsyncClient,
    enrolment_events: Enrolment,
    body: dict,
    field: str,
    rule: str,
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    before = len(await staged(sessions))

    response = await sessions.post(completion_path(dana), json=body)

    problem = assert_problem(response, 422, field, rule)
    assert field in problem["detail"]
    assert len(await staged(sessions)) == before
    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["modules_completed"] == []


async def test_a_module_cannot_be_completed_in_the_future(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    tomorrow = almaty_today() + timedelta(days=1)

    response = await sessions.post(
        completion_path(dana),
        json={"module_id": "culture-and-identity", "completed_on": tomorrow.isoformat()},
    )

    assert_problem(response, 422, "completed_on", "not_in_future")
    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["modules_completed"] == []


async def test_a_module_completed_on_the_first_day_of_the_calendar_gets_a_problem_not_a_500(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    before = len(await staged(sessions))

    response = await sessions.post(
        completion_path(dana),
        json={"module_id": "culture-and-identity", "completed_on": "0001-01-01"},
    )

    problem = assert_problem(response, 422, "completed_on", "not_before_cohort")
    assert "0001-01-01" in problem["detail"]
    assert len(await staged(sessions)) == before


async def test_a_module_cannot_be_completed_before_the_trainers_cohort_starts(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions)
    (dana,) = school.trainers
    day_before = school.starts_on - timedelta(days=1)
    before = len(await staged(sessions))

    refused = await sessions.post(
        completion_path(dana),
        json={"module_id": "culture-and-identity", "completed_on": day_before.isoformat()},
    )

    problem = assert_problem(refused, 422, "completed_on", "not_before_cohort")
    assert str(school.starts_on) in problem["detail"]
    assert len(await staged(sessions)) == before
    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["modules_completed"] == []
    first_day = await sessions.post(
        completion_path(dana),
        json={"module_id": "culture-and-identity", "completed_on": school.starts_on.isoformat()},
    )
    assert first_day.status_code == 201, first_day.text


async def test_a_trainer_unknown_to_the_roster_gets_a_problem_saying_the_enrolment_may_be_late(
    sessions: httpx.AsyncClient,
) -> None:
    stranger = uuid.uuid4()
    before = len(await staged(sessions))

    response = await sessions.post(
        completion_path(stranger), json={"module_id": "culture-and-identity"}
    )

    problem = assert_problem(response, 422, "trainer_id", "enrolled")
    assert "may not have arrived yet" in problem["detail"]
    assert len(await staged(sessions)) == before
    missing = await sessions.get(f"/v1/trainers/{stranger}/progress")
    assert missing.status_code == 404
    assert "may not have arrived yet" in missing.json()["detail"]


async def test_a_trainer_enrolled_after_a_first_refusal_can_complete_modules(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions)
    late = enrolment_events.enrolled(school.id, school.cohort_id)
    early = await sessions.post(
        completion_path(late.trainer_id), json={"module_id": "culture-and-identity"}
    )
    assert early.status_code == 422

    await enrolment_events.publish(late)
    await on_roster(sessions, late.trainer_id)

    again = await sessions.post(
        completion_path(late.trainer_id), json={"module_id": "culture-and-identity"}
    )
    assert again.status_code == 201, again.text


async def test_a_withdrawn_trainer_cannot_complete_modules(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions)
    (dana,) = school.trainers
    await enrolment_events.withdraw(dana, school.id)
    await withdrawn_on_roster(sessions, dana)
    before = len(await staged(sessions))

    response = await sessions.post(
        completion_path(dana), json={"module_id": "culture-and-identity"}
    )

    problem = assert_problem(response, 422, "trainer_id", "active")
    assert "withdrawn" in problem["detail"]
    assert len(await staged(sessions)) == before


async def test_a_withdrawal_arriving_before_its_enrolment_keeps_the_trainer_withdrawn(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    school = await school_with_trainers(enrolment_events, sessions)
    event = enrolment_events.enrolled(school.id, school.cohort_id)
    await enrolment_events.withdraw(event.trainer_id, school.id)
    await enrolment_events.publish(event)
    await on_roster(sessions, event.trainer_id)
    duplicates = await roster_duplicates(sessions)
    # The enrolment again under the same event id, past the server's duplicate window: the
    # inbox recognises it and drops it.
    await enrolment_events.publish(
        event, event_id=enrolment_events.published[-1], past_duplicate_window=True
    )

    async def dropped() -> bool:
        return await roster_duplicates(sessions) == duplicates + 1

    await eventually(dropped, timeout=30)

    progress = (await sessions.get(f"/v1/trainers/{event.trainer_id}/progress")).json()

    assert progress["status"] == "withdrawn"
    response = await sessions.post(
        completion_path(event.trainer_id), json={"module_id": "culture-and-identity"}
    )
    assert_problem(response, 422, "trainer_id", "active")


async def test_completing_every_core_module_certifies_the_trainer_once(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers

    await certify(sessions, dana)

    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["certified"] is True
    assert progress["core_modules_completed"] == 6
    reached = await milestones_of(sessions, dana)
    assert [m.data["kind"] for m in reached] == ["trainer.certified"]
    (certified,) = reached
    last_module = [
        e for e in await staged(sessions, MODULE_COMPLETED) if e.data["trainer_id"] == str(dana)
    ][-1]
    assert certified.data["caused_by"] == last_module.event_id
    assert certified.data["evidence"] == {"core_modules_completed": 6}
    assert certified.data["subject"] == {"type": "trainer", "id": str(dana)}
    assert [m["kind"] for m in progress["milestones"]] == ["trainer.certified"]
    assert progress["milestones"][0]["milestone_id"] == certified.data["milestone_id"]


async def test_an_erased_trainer_keeps_its_completions_and_milestones_as_a_tombstone(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    await certify(sessions, dana)

    await enrolment_events.erase(dana)

    async def erased() -> dict | None:
        progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
        return progress if progress["erased"] else None

    progress = await eventually(erased, timeout=30)
    assert progress["certified"] is True
    assert progress["core_modules_completed"] == 6
    assert [m["kind"] for m in progress["milestones"]] == ["trainer.certified"]
    assert len(await milestones_of(sessions, dana)) == 1


async def test_a_coordinator_records_modules_and_reads_progress_only_for_their_own_school(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment, provisioned: str
) -> None:
    ours = await school_with_trainers(enrolment_events, sessions)
    theirs = await school_with_trainers(enrolment_events, sessions)
    coordinator = await coordinator_token(provisioned, ours.id)
    body = {"module_id": "culture-and-identity"}

    own = await sessions.post(completion_path(ours.trainers[0]), json=body, headers=coordinator)
    assert own.status_code == 201, own.text
    read = await sessions.get(f"/v1/trainers/{ours.trainers[0]}/progress", headers=coordinator)
    assert read.status_code == 200

    before = len(await staged(sessions))
    other = await sessions.post(completion_path(theirs.trainers[0]), json=body, headers=coordinator)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    peek = await sessions.get(f"/v1/trainers/{theirs.trainers[0]}/progress", headers=coordinator)
    assert peek.status_code == 403
    assert len(await staged(sessions)) == before


async def test_partners_and_anonymous_callers_have_no_access_to_the_sessions_service(
    sessions: httpx.AsyncClient, enrolment_events: Enrolment, provisioned: str
) -> None:
    (dana,) = (await school_with_trainers(enrolment_events, sessions)).trainers
    partner = await partner_token(provisioned)
    anonymous = {"Authorization": ""}
    body = {"module_id": "culture-and-identity"}
    for headers, status in ((partner, 403), (anonymous, 401)):
        for response in (
            await sessions.get("/v1/modules", headers=headers),
            await sessions.post(completion_path(dana), json=body, headers=headers),
            await sessions.get(f"/v1/trainers/{dana}/progress", headers=headers),
            await sessions.get("/v1/sessions", headers=headers),
        ):
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == "application/problem+json"
    progress = (await sessions.get(f"/v1/trainers/{dana}/progress")).json()
    assert progress["modules_completed"] == []
    assert await milestones_of(sessions, dana) == []
