"""Every date the enrolment API reads is ISO text (YYYY-MM-DD) within the programme's years;
a guardian's consent is not in the future nor older than the cohort can use. Bad dates get a
problem naming the field, and nothing is stored or published."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from yts_enrolment.domain import PROGRAMME_TIMEZONE

from tests.support.enrolment_api import COHORT, outbox_count, setup_school_and_cohort, trainer

ALMATY_TODAY = datetime.now(PROGRAMME_TIMEZONE).date()


def problem_names(response: httpx.Response, field: str, rule: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
    assert field in problem["detail"]


NOT_ISO_TEXT = [
    0,
    1700000000,
    "0",
    "1700000000",
    "2026-9-10",
    "20260910",
    "2026-09-10T00:00:00",
    "2026-09-10T00:00:00Z",
    "10.09.2026",
    "2026-02-30",
    "",
    "\u0662\u0660\u0662\u0666-\u0660\u0669-\u0661\u0660",  # 2026-09-10 in Arabic-Indic digits
    None,
    True,
]


@pytest.mark.parametrize(
    ("given_on", "rule"),
    [
        *((value, "iso_date") for value in NOT_ISO_TEXT if value != "2026-02-30"),
        ("2026-02-30", "date_from_datetime_parsing"),
        ("1900-01-01", "date_in_range"),
        ("0011-01-01", "date_in_range"),
        ("1999-12-31", "date_in_range"),
        # Tomorrow in Almaty, as the service reads it (from 19:00 UTC, UTC's tomorrow is
        # Almaty's today).
        ((ALMATY_TODAY + timedelta(days=1)).isoformat(), "not_in_future"),
        ("2005-05-05", "within_consent_reach"),  # years before the cohort began
    ],
)
async def test_a_guardian_consent_date_that_is_not_a_sane_iso_date_is_refused(
    enrolment: httpx.AsyncClient, given_on: Any, rule: str
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    before = await outbox_count(enrolment)
    body = trainer(
        school_id,
        cohort_id,
        guardian_consent={"guardian_name": "Saule Nurlanova", "given_on": given_on},
    )
    response = await enrolment.post("/v1/trainers", json=body)
    problem_names(response, "guardian_consent.given_on", rule)
    assert (await enrolment.get("/v1/trainers")).json()["total"] == 0
    assert await outbox_count(enrolment) == before


async def test_a_consent_given_up_to_three_years_before_the_cohort_is_accepted(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    earliest = date(int(COHORT["starts_on"][:4]) - 3, 1, 1).isoformat()
    consent = {"guardian_name": "Saule Nurlanova", "given_on": earliest}
    response = await enrolment.post(
        "/v1/trainers", json=trainer(school_id, cohort_id, guardian_consent=consent)
    )
    assert response.status_code == 201, response.text
    assert response.json()["guardian_consent_on"] == earliest


def cohort(first: int, **changes: Any) -> dict[str, Any]:
    return {
        "name": f"{first:04d}-{first + 1:04d}",
        "starts_on": f"{first:04d}-08-15",
        "ends_on": f"{first + 1:04d}-06-30",
        **changes,
    }


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        *(
            (cohort(2030, starts_on=value), "starts_on", "iso_date")
            for value in NOT_ISO_TEXT
            if value != "2026-02-30"
        ),
        (cohort(2030, ends_on=0), "ends_on", "iso_date"),
        (cohort(2030, ends_on="2031-6-30"), "ends_on", "iso_date"),
        (cohort(2030, ends_on="2031-06-30T00:00:00"), "ends_on", "iso_date"),
        (cohort(2030, ends_on="2031-02-29"), "ends_on", "date_from_datetime_parsing"),
        (cohort(11), "starts_on", "date_in_range"),
        (cohort(1900), "starts_on", "date_in_range"),
        (cohort(1999), "starts_on", "date_in_range"),
        (cohort(2100), "ends_on", "date_in_range"),
        (cohort(2101), "starts_on", "date_in_range"),
        (cohort(2030, ends_on="2030-08-15"), "ends_on", "after_starts_on"),
        (cohort(2030, ends_on="2030-08-01"), "ends_on", "after_starts_on"),
        (
            cohort(2030, name="\u0662\u0660\u0663\u0660-\u0662\u0660\u0663\u0661"),
            "name",
            "string_pattern_mismatch",
        ),
    ],
)
async def test_a_cohort_date_that_is_not_a_sane_iso_date_is_refused(
    enrolment: httpx.AsyncClient, body: dict[str, Any], field: str, rule: str
) -> None:
    before = await outbox_count(enrolment)
    response = await enrolment.post("/v1/cohorts", json=body)
    problem_names(response, field, rule)
    assert (await enrolment.get("/v1/cohorts")).json() == []
    assert await outbox_count(enrolment) == before


@pytest.mark.parametrize("first", [2000, 2030, 2099])
async def test_a_cohort_within_the_programme_years_is_opened(
    enrolment: httpx.AsyncClient, first: int
) -> None:
    response = await enrolment.post("/v1/cohorts", json=cohort(first))
    assert response.status_code == 201, response.text
    assert response.json()["starts_on"] == f"{first}-08-15"
