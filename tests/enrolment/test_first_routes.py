"""Registering schools, opening cohorts and enrolling trainers over HTTP: the rules, the
problems a person sees for bad input, and that bad input stores and publishes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.enrolment_api import (
    COHORT,
    CONSENT_DAY,
    SCHOOL,
    outbox_count,
    setup_school_and_cohort,
    trainer,
)
from tests.support.services import eventually


async def test_enrolling_a_trainer_returns_the_trainer_and_stages_the_event(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    response = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["grade"] == 10
    assert body["status"] == "active"
    fetched = await enrolment.get(f"/v1/trainers/{body['id']}")
    assert fetched.json()["first_name"] == "Dana"
    # school.registered + school.contact + cohort.opened + trainer.enrolled
    assert await outbox_count(enrolment) == 4


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"grade": 8}, "grade", "literal_error"),
        ({"grade": 12}, "grade", "literal_error"),
        ({"guardian_consent": None}, "guardian_consent", "model_attributes_type"),
        ({"first_name": "   "}, "first_name", "string_too_short"),
        ({"languages": []}, "languages", "too_short"),
        ({"languages": ["mw", "mw"]}, "languages", "distinct"),
        ({"gender": "other"}, "gender", "enum"),
        ({"school_id": "not-a-uuid"}, "school_id", "uuid_parsing"),
        ({"first_name": "Dana\nAlmaty"}, "first_name", "one_line"),
        ({"last_name": "Nurlanova\u202e"}, "last_name", "one_line"),
        (
            {"guardian_consent": {"guardian_name": "Saule\rNurlanova", "given_on": CONSENT_DAY}},
            "guardian_consent.guardian_name",
            "one_line",
        ),
    ],
)
async def test_bad_trainer_input_gets_a_problem_naming_the_field_and_stores_nothing(
    enrolment: httpx.AsyncClient, change: dict[str, Any], field: str, rule: str
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    before = await outbox_count(enrolment)
    body = trainer(school_id, cohort_id)
    body.update(change)
    response = await enrolment.post("/v1/trainers", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
    assert field in problem["detail"]
    listed = await enrolment.get("/v1/trainers")
    assert listed.json()["total"] == 0
    assert await outbox_count(enrolment) == before


async def test_missing_guardian_consent_is_refused(enrolment: httpx.AsyncClient) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    body = trainer(school_id, cohort_id)
    del body["guardian_consent"]
    response = await enrolment.post("/v1/trainers", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "guardian_consent"
    assert response.json()["errors"][0]["rule"] == "missing"


async def test_trainer_for_an_unknown_school_or_cohort_is_refused(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    before = await outbox_count(enrolment)
    unknown = str(uuid.uuid4())
    for body, field in (
        (trainer(unknown, cohort_id), "school_id"),
        (trainer(school_id, unknown), "cohort_id"),
    ):
        response = await enrolment.post("/v1/trainers", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"field": field, "rule": "exists", "message": f"no {field[:-3]} with id {unknown}"}
        ]
    assert await outbox_count(enrolment) == before


async def test_the_same_person_cannot_be_enrolled_twice_in_a_cohort(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    first = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id))
    assert first.status_code == 201
    again = await enrolment.post(
        "/v1/trainers",
        json=trainer(school_id, cohort_id, first_name="  dana ", last_name="NURLANOVA"),
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert (await enrolment.get("/v1/trainers")).json()["total"] == 1


@pytest.mark.parametrize(
    ("path", "body", "field", "rule"),
    [
        ("/v1/schools", {**SCHOOL, "district": "Atlantis"}, "district", "enum"),
        (
            "/v1/schools",
            {**SCHOOL, "coordinator": {**SCHOOL["coordinator"], "email": "nope"}},
            "coordinator.email",
            "mail_address",
        ),
        (
            "/v1/schools",
            {**SCHOOL, "coordinator": {**SCHOOL["coordinator"], "locale": "de"}},
            "coordinator.locale",
            "enum",
        ),
        ("/v1/cohorts", {**COHORT, "name": "2024/25"}, "name", "string_pattern_mismatch"),
        ("/v1/cohorts", {**COHORT, "ends_on": COHORT["starts_on"]}, "ends_on", "after_starts_on"),
        ("/v1/cohorts", {**COHORT, "name": "2001-2002"}, "name", "matches_dates"),
        # Found by the HTTP fuzzing: a repeated language reached the event model (a 500).
        ("/v1/schools", {**SCHOOL, "languages": ["kk", "kk"]}, "languages", "distinct"),
    ],
)
async def test_bad_school_or_cohort_input_gets_a_problem_and_publishes_nothing(
    enrolment: httpx.AsyncClient, path: str, body: dict[str, Any], field: str, rule: str
) -> None:
    before = await outbox_count(enrolment)
    response = await enrolment.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["field"] == field and e["rule"] == rule for e in response.json()["errors"])
    assert await outbox_count(enrolment) == before


async def test_enrolment_routes_need_a_token_and_the_right_role(
    enrolment: httpx.AsyncClient,
) -> None:
    anonymous = await enrolment.post("/v1/schools", json=SCHOOL, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    wrong = await enrolment.post(
        "/v1/schools", json=SCHOOL, headers={"Authorization": "Bearer yts_not-a-token"}
    )
    assert wrong.status_code == 401


async def test_a_coordinator_enrols_only_for_their_own_school(
    enrolment: httpx.AsyncClient, provisioned: str
) -> None:
    from yts_chassis.auth import Role

    from tests.support.access import token_for

    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    other_school, _ = await setup_school_and_cohort(enrolment, name="Lyceum No. 165")
    coordinator = await token_for(provisioned, Role.coordinator, uuid.UUID(school_id))
    partner = await token_for(provisioned, Role.partner)

    def as_(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    own = await enrolment.post(
        "/v1/trainers", json=trainer(school_id, cohort_id), headers=as_(coordinator)
    )
    assert own.status_code == 201, own.text
    foreign = await enrolment.post(
        "/v1/trainers", json=trainer(other_school, cohort_id), headers=as_(coordinator)
    )
    assert foreign.status_code == 403
    assert (
        await enrolment.post(
            "/v1/schools", json={**SCHOOL, "name": "X School"}, headers=as_(coordinator)
        )
    ).status_code == 403
    assert (await enrolment.get("/v1/trainers", headers=as_(partner))).status_code == 403
    listed = await enrolment.get("/v1/trainers", headers=as_(coordinator))
    assert [t["school_id"] for t in listed.json()["items"]] == [school_id]


async def test_events_reach_the_stream_after_the_request(enrolment: httpx.AsyncClient, js) -> None:
    from tests.support.events import stream_messages

    school_id, cohort_id = await setup_school_and_cohort(enrolment, name="School No. 77")
    created = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id))
    trainer_id = created.json()["id"]

    async def published() -> bool:
        messages = await stream_messages(js, "YTS_ENROLMENT", "yts.enrolment.trainer.enrolled.v1")
        return any(m.headers and m.headers.get("ce-subject") == trainer_id for m in messages)

    await eventually(published)


async def test_malformed_json_and_unknown_routes_get_problems_not_500s(
    enrolment: httpx.AsyncClient,
) -> None:
    broken = await enrolment.post(
        "/v1/trainers", content=b'{"grade": 10,', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    assert broken.json()["errors"][0]["rule"] == "json_invalid"
    missing = await enrolment.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = await enrolment.put("/v1/schools")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/problem+json"
