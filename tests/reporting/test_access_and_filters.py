"""Who may read reporting, and what bad filters get: admin and partner tokens read everything,
a coordinator's token only its own school (another school is a 403, its numbers are its
school's), no token a 401, and a bad filter a 422 problem naming the field and the rule."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from yts_chassis.auth import Role

from tests.reporting.conftest import reporting_app
from tests.support.access import token_for
from tests.support.reporting_programme import (
    MEASURES,
    Programme,
    generate,
    serving,
)

FILTERED_ROUTES = (
    "/v1/indicators",
    "/v1/indicators/monthly",
    "/v1/exports/sessions.csv",
    "/v1/exports/indicators.xlsx",
    "/",
)


@dataclass
class Readers:
    programme: Programme
    admin: httpx.AsyncClient
    tokens: dict[str, str]

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
async def readers(own_nats: str, database_factory) -> AsyncIterator[Readers]:
    programme = generate(schools=8, trainers_per_school=4, sessions=60, seed=7)
    own, other = programme.schools[0].id, programme.schools[1].id
    tokens = {
        "partner": await token_for(own_nats, Role.partner),
        "coordinator": await token_for(own_nats, Role.coordinator, own),
        "other coordinator": await token_for(own_nats, Role.coordinator, other),
    }
    app = reporting_app(own_nats, await database_factory("reporting_access"))
    async with serving(app, own_nats, programme) as admin:
        yield Readers(programme, admin, tokens)


def values(body: dict) -> dict[str, int]:
    return {m: body[m]["value"] for m in MEASURES}


def expected(p: Programme, **filters) -> dict[str, int]:
    return {m: v for m, v in p.expected(**filters).items() if m in MEASURES}


async def test_a_partner_reads_the_whole_programme(readers: Readers) -> None:
    p = readers.programme
    response = await readers.admin.get("/v1/indicators", headers=readers.as_("partner"))
    assert response.status_code == 200, response.text
    assert values(response.json()) == expected(p)
    other = await readers.admin.get(
        f"/v1/schools/{p.schools[5].id}/summary", headers=readers.as_("partner")
    )
    assert other.status_code == 200


async def test_a_coordinator_sees_only_its_own_school(readers: Readers) -> None:
    p = readers.programme
    own = p.schools[0].id
    headers = readers.as_("coordinator")
    body = (await readers.admin.get("/v1/indicators", headers=headers)).json()
    assert values(body) == expected(p, school=own)
    assert body["filters"]["school_id"] == str(own)
    explicit = await readers.admin.get(
        "/v1/indicators", params={"school_id": str(own)}, headers=headers
    )
    assert values(explicit.json()) == expected(p, school=own)
    summary = await readers.admin.get(f"/v1/schools/{own}/summary", headers=headers)
    assert summary.status_code == 200
    assert summary.json()["school"]["school_id"] == str(own)
    monthly = (await readers.admin.get("/v1/indicators/monthly", headers=headers)).json()
    assert (
        sum(m["sessions_delivered"]["value"] for m in monthly["months"])
        == (p.expected(school=own)["sessions_delivered"])
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                (
                    await readers.admin.get(
                        "/v1/exports/sessions.csv", params={"columns": "keys"}, headers=headers
                    )
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert p.expected(school=own)["sessions_delivered"] > 0, "the programme gives it sessions"
    assert {r["school_id"] for r in rows} == {str(own)}
    assert len(rows) == p.expected(school=own)["sessions_delivered"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/indicators?school_id={other}",
        "/v1/indicators/monthly?school_id={other}",
        "/v1/schools/{other}/summary",
        "/v1/exports/sessions.csv?school_id={other}",
        "/v1/exports/indicators.xlsx?school_id={other}",
        "/?school_id={other}",
    ],
)
async def test_another_school_is_forbidden_to_a_coordinator(readers: Readers, path: str) -> None:
    other = readers.programme.schools[1].id
    response = await readers.admin.get(path.format(other=other), headers=readers.as_("coordinator"))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Not your school"


@pytest.mark.parametrize(
    "path",
    ["/v1/indicators", "/v1/indicators/monthly", "/v1/exports/sessions.csv"],
)
async def test_no_token_or_an_unknown_one_is_a_401(readers: Readers, path: str) -> None:
    missing = await readers.admin.get(path, headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    unknown = await readers.admin.get(path, headers={"Authorization": "Bearer yts_nope"})
    assert unknown.status_code == 401
    assert unknown.json()["title"] == "Unknown token"


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ({"from": "2024-06-01", "to": "2024-01-01"}, "query.to", "not_before_from"),
        ({"grade": "12"}, "query.grade", "less_than_equal"),
        ({"grade": "ten"}, "query.grade", "int_parsing"),
        ({"gender": "boy"}, "query.gender", "enum"),
        ({"district": "Paris"}, "query.district", "enum"),
        ({"school_id": "No. 12"}, "query.school_id", "uuid_parsing"),
        ({"from": "2024-13-01"}, "query.from", "date_from_datetime_parsing"),
    ],
)
async def test_a_bad_filter_is_a_problem_naming_the_field_and_the_rule(
    readers: Readers, query: dict[str, str], field: str, rule: str
) -> None:
    await refused_everywhere(readers, query, field, rule)


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ({"to": "0"}, "query.to", "iso_date"),
        ({"from": "0"}, "query.from", "iso_date"),
        ({"to": "1727740800"}, "query.to", "iso_date"),
        ({"from": "2024-09-01T00:00:00"}, "query.from", "iso_date"),
        ({"to": "01.09.2024"}, "query.to", "iso_date"),
        ({"to": "24-09-01"}, "query.to", "iso_date"),
        ({"from": "0001-01-01"}, "query.from", "date_in_range"),
        ({"to": "0205-05-31"}, "query.to", "date_in_range"),
        ({"to": "9999-12-31"}, "query.to", "date_in_range"),
    ],
)
async def test_a_period_end_is_an_iso_date_within_the_programme_years(
    readers: Readers, query: dict[str, str], field: str, rule: str
) -> None:
    await refused_everywhere(readers, query, field, rule)


async def refused_everywhere(
    readers: Readers, query: dict[str, str], field: str, rule: str
) -> None:
    """Every route that takes the filters, the dashboard's form included, answers the same
    422 problem naming the field and the rule."""
    for path in FILTERED_ROUTES:
        response = await readers.admin.get(path, params=query)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        (error,) = response.json()["errors"]
        assert (error["field"], error["rule"]) == (field, rule), path


async def test_the_first_and_last_day_reporting_accepts_bound_the_period(
    readers: Readers,
) -> None:
    response = await readers.admin.get(
        "/v1/indicators", params={"from": "2000-01-01", "to": "2100-12-31"}
    )

    assert response.status_code == 200, response.text
    assert response.json()["period"] == {"from": "2000-01-01", "to": "2100-12-31"}
    assert values(response.json()) == values((await readers.admin.get("/v1/indicators")).json())


async def test_a_school_reporting_does_not_know_is_a_404(readers: Readers) -> None:
    response = await readers.admin.get(f"/v1/schools/{uuid.uuid4()}/summary")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_period_narrows_every_indicator(readers: Readers) -> None:
    p = readers.programme
    response = await readers.admin.get(
        "/v1/indicators", params={"from": "2024-09-01", "to": "2025-05-31"}
    )
    body = response.json()
    assert body["period"] == {"from": "2024-09-01", "to": "2025-05-31"}
    assert values(body) == expected(p, start=date(2024, 9, 1), end=date(2025, 5, 31))
