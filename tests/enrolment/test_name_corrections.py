"""Correcting a mistyped name (``PATCH /v1/trainers/{id}``): the coordinator of the trainer's
school or staff; names stay in enrolment (nothing published); bad input is a problem naming the
field and the rule, and nothing is changed; the corrected person cannot be enrolled twice."""

from __future__ import annotations

import uuid

import httpx
from yts_chassis.auth import Role

from tests.support.access import bearer_for
from tests.support.enrolment_api import outbox_count, setup_school_and_cohort, trainer


async def enrolled(client: httpx.AsyncClient, **changes: object) -> dict:
    school_id, cohort_id = await setup_school_and_cohort(client)
    response = await client.post("/v1/trainers", json=trainer(school_id, cohort_id, **changes))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_mistyped_name_is_corrected_and_nothing_is_published(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment, first_name="Dnaa")
    before = await outbox_count(enrolment)
    response = await enrolment.patch(f"/v1/trainers/{dana['id']}", json={"first_name": " Dana "})
    assert response.status_code == 200, response.text
    assert (response.json()["first_name"], response.json()["last_name"]) == ("Dana", "Nurlanova")
    shown = (await enrolment.get(f"/v1/trainers/{dana['id']}")).json()
    assert (shown["first_name"], shown["grade"]) == ("Dana", 10)
    assert await outbox_count(enrolment) == before


async def test_a_correction_with_no_name_or_a_bad_one_is_refused_and_changes_nothing(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment)
    for body, field, rule in (
        ({}, "first_name", "missing"),
        ({"last_name": ""}, "last_name", "string_too_short"),
        ({"last_name": "Nurla\nnova"}, "last_name", "one_line"),
        ({"grade": 11}, "grade", "extra_forbidden"),
    ):
        response = await enrolment.patch(f"/v1/trainers/{dana['id']}", json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["rule"]) == (
            field,
            rule,
        ), response.json()
    shown = (await enrolment.get(f"/v1/trainers/{dana['id']}")).json()
    assert (shown["last_name"], shown["grade"]) == ("Nurlanova", 10)


async def test_a_correction_that_makes_a_person_enrolled_twice_is_a_conflict(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment)
    other = await enrolment.post(
        "/v1/trainers", json=trainer(dana["school_id"], dana["cohort_id"], first_name="Dina")
    )
    assert other.status_code == 201
    response = await enrolment.patch(
        f"/v1/trainers/{other.json()['id']}", json={"first_name": "Dana"}
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["rule"] == "one_active_enrolment"
    shown = (await enrolment.get(f"/v1/trainers/{other.json()['id']}")).json()
    assert shown["first_name"] == "Dina"


async def test_only_the_schools_coordinator_or_staff_correct_a_name(
    enrolment: httpx.AsyncClient, provisioned: str
) -> None:
    dana = await enrolled(enrolment)
    other_school, _ = await setup_school_and_cohort(enrolment, name="Lyceum No. 165")
    own = await bearer_for(provisioned, Role.coordinator, uuid.UUID(dana["school_id"]))
    another = await bearer_for(provisioned, Role.coordinator, uuid.UUID(other_school))
    partner = await bearer_for(provisioned, Role.partner)
    path = f"/v1/trainers/{dana['id']}"
    for refused in (another, partner):
        answer = await enrolment.patch(path, json={"last_name": "X"}, headers=refused)
        assert answer.status_code == 403
    assert (await enrolment.get(path)).json()["last_name"] == "Nurlanova"
    corrected = await enrolment.patch(path, json={"last_name": "Nurlanova-Seit"}, headers=own)
    assert corrected.status_code == 200
    missing = await enrolment.patch(f"/v1/trainers/{uuid.uuid4()}", json={"last_name": "X"})
    assert missing.status_code == 404
