"""Dates as they happened (issue 14): an enrolment and a withdrawal carry the day they took
effect, so a record kept on paper is entered later with its day; by default, today in the
programme's time zone (Almaty), not UTC. The day is not in the future and lies inside the
trainer's cohort; a withdrawal is not before the enrolment. What is refused names the field and
the rule, and nothing is stored or published. Rows stored before keep the day they were typed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import pool, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel.sql.sqltypes import UTCDateTime
from yts_chassis.migrations import alembic_config, upgrade_async
from yts_enrolment import usecases
from yts_enrolment.main import MIGRATIONS

from tests.enrolment.test_dates import problem_names
from tests.support.enrolment_api import COHORT, outbox_count, setup_school_and_cohort, trainer

ALMATY = ZoneInfo("Asia/Almaty")
PAST_COHORT = {"name": "2024-2025", "starts_on": "2024-09-01", "ends_on": "2025-06-30"}
PAST_CONSENT = {"guardian_name": "Saule Nurlanova", "given_on": "2024-08-20"}


def almaty_today() -> date:
    return datetime.now(ALMATY).date()


async def last_event(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    table = runtime.outbox.table
    async with runtime.db.session() as session:
        row = (
            await session.execute(
                select(table.c.event_type, table.c.body).order_by(table.c.seq.desc()).limit(1)
            )
        ).one()
    return row.event_type, json.loads(row.body)


async def past_cohort(client: httpx.AsyncClient) -> tuple[str, str]:
    school_id, _ = await setup_school_and_cohort(client)
    cohort = await client.post("/v1/cohorts", json=PAST_COHORT)
    assert cohort.status_code == 201, cohort.text
    return school_id, cohort.json()["id"]


async def test_a_paper_record_is_entered_later_with_the_day_the_enrolment_took_effect(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    starts_on = date.fromisoformat(COHORT["starts_on"])
    enrolled_on = max(starts_on, almaty_today() - timedelta(days=40))
    response = await enrolment.post(
        "/v1/trainers", json=trainer(school_id, cohort_id, enrolled_on=enrolled_on.isoformat())
    )
    assert response.status_code == 201, response.text
    assert response.json()["enrolled_on"] == enrolled_on.isoformat()
    event_type, data = await last_event(enrolment)
    assert event_type == "yts.enrolment.trainer.enrolled.v1"
    assert data["enrolled_on"] == enrolled_on.isoformat()
    read_back = await enrolment.get(f"/v1/trainers/{response.json()['id']}")
    assert read_back.json()["enrolled_on"] == enrolled_on.isoformat()


async def test_a_cohort_that_has_ended_takes_a_paper_record_dated_inside_it(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id, cohort_id = await past_cohort(enrolment)
    body = trainer(school_id, cohort_id, enrolled_on="2024-09-16", guardian_consent=PAST_CONSENT)
    enrolled = await enrolment.post("/v1/trainers", json=body)
    assert enrolled.status_code == 201, enrolled.text
    left = await enrolment.post(
        f"/v1/trainers/{enrolled.json()['id']}/withdrawal",
        json={"reason": "moved_school", "withdrawn_on": "2025-03-14"},
    )
    assert left.status_code == 200, left.text
    assert left.json()["withdrawn_on"] == "2025-03-14"
    event_type, data = await last_event(enrolment)
    assert event_type == "yts.enrolment.trainer.withdrawn.v1"
    assert data["withdrawn_on"] == "2025-03-14"


async def test_without_a_day_an_enrolment_and_a_withdrawal_take_today_in_almaty_not_utc(
    enrolment: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    school_id, cohort_id = await setup_school_and_cohort(enrolment)
    today = almaty_today()
    # 01:30 in Almaty is still yesterday in UTC.
    moment = datetime.combine(today, time(1, 30), ALMATY).astimezone(UTC)
    assert moment.date() == today - timedelta(days=1)
    monkeypatch.setattr(usecases, "_now", lambda: moment)
    enrolled = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id))
    assert enrolled.status_code == 201, enrolled.text
    assert enrolled.json()["enrolled_on"] == today.isoformat()
    assert (await last_event(enrolment))[1]["enrolled_on"] == today.isoformat()
    left = await enrolment.post(
        f"/v1/trainers/{enrolled.json()['id']}/withdrawal", json={"reason": "personal"}
    )
    assert left.status_code == 200, left.text
    assert left.json()["withdrawn_on"] == today.isoformat()
    assert (await last_event(enrolment))[1]["withdrawn_on"] == today.isoformat()


@pytest.mark.parametrize(
    ("enrolled_on", "rule"),
    [
        ("tomorrow", "not_in_future"),
        ("2024-08-31", "within_cohort"),  # the day before the cohort began
        ("2025-07-01", "within_cohort"),  # the day after it ended
        ("2024-9-16", "iso_date"),
        (0, "iso_date"),
        ("1999-12-31", "date_in_range"),
    ],
)
async def test_an_enrolment_day_not_past_or_outside_the_cohort_is_refused(
    enrolment: httpx.AsyncClient, enrolled_on: Any, rule: str
) -> None:
    school_id, cohort_id = await past_cohort(enrolment)
    if enrolled_on == "tomorrow":
        enrolled_on = (almaty_today() + timedelta(days=1)).isoformat()
    before = await outbox_count(enrolment)
    body = trainer(school_id, cohort_id, enrolled_on=enrolled_on, guardian_consent=PAST_CONSENT)
    response = await enrolment.post("/v1/trainers", json=body)
    problem_names(response, "enrolled_on", rule)
    assert (await enrolment.get("/v1/trainers")).json()["total"] == 0
    assert await outbox_count(enrolment) == before


@pytest.mark.parametrize(
    ("withdrawn_on", "rule"),
    [
        ("tomorrow", "not_in_future"),
        ("2024-09-15", "not_before_enrolled_on"),  # the day before the enrolment
        ("2025-07-01", "within_cohort"),  # the day after the cohort ended
        ("15.03.2025", "iso_date"),
    ],
)
async def test_a_withdrawal_day_not_past_before_enrolment_or_after_the_cohort_is_refused(
    enrolment: httpx.AsyncClient, withdrawn_on: str, rule: str
) -> None:
    school_id, cohort_id = await past_cohort(enrolment)
    body = trainer(school_id, cohort_id, enrolled_on="2024-09-16", guardian_consent=PAST_CONSENT)
    enrolled = await enrolment.post("/v1/trainers", json=body)
    assert enrolled.status_code == 201, enrolled.text
    if withdrawn_on == "tomorrow":
        withdrawn_on = (almaty_today() + timedelta(days=1)).isoformat()
    before = await outbox_count(enrolment)
    response = await enrolment.post(
        f"/v1/trainers/{enrolled.json()['id']}/withdrawal",
        json={"reason": "personal", "withdrawn_on": withdrawn_on},
    )
    problem_names(response, "withdrawn_on", rule)
    still = (await enrolment.get(f"/v1/trainers/{enrolled.json()['id']}")).json()
    assert still["status"] == "active"
    assert still["withdrawn_on"] is None
    assert await outbox_count(enrolment) == before


UTC_TIME = UTCDateTime()


def columns(*names: str, **types: Any) -> list[sa.ColumnClause[Any]]:
    return [sa.column(n) for n in names] + [sa.column(n, t) for n, t in types.items()]


# The tables as the revision before this change left them (only the columns these rows need).
OLD_SCHOOLS = sa.table(
    "schools",
    *columns(
        "name",
        "district",
        "active",
        "coordinator_name",
        "coordinator_email",
        "coordinator_locale",
        id=sa.Uuid(),
        languages=sa.JSON(),
        registered_at=UTC_TIME,
    ),
)
OLD_COHORTS = sa.table(
    "cohorts",
    *columns(
        "name", "starts_on", "ends_on", "open_for_enrolment", id=sa.Uuid(), opened_at=UTC_TIME
    ),
)
OLD_TRAINERS = sa.table(
    "trainers",
    *columns(
        "grade",
        "gender",
        "status",
        id=sa.Uuid(),
        school_id=sa.Uuid(),
        cohort_id=sa.Uuid(),
        languages=sa.JSON(),
        enrolled_at=UTC_TIME,
        withdrawn_at=UTC_TIME,
    ),
)


async def test_rows_stored_before_get_the_almaty_day_they_were_typed(database_factory) -> None:
    """The migration fills enrolled_on (withdrawn_on) from enrolled_at (withdrawn_at) in
    Almaty: 20:30 UTC on 31 March is already 1 April there."""
    url = await database_factory("enrolment_dates_migration")
    before = "1289217b43ba"  # the revision before enrolled_on and withdrawn_on
    await asyncio.to_thread(command.upgrade, alembic_config(url, MIGRATIONS), before)
    school_id, cohort_id, stays, left = (uuid.uuid4() for _ in range(4))
    evening = datetime(2026, 3, 31, 20, 30, tzinfo=UTC)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                OLD_SCHOOLS.insert().values(
                    id=school_id,
                    name="School-Gymnasium No. 12",
                    district="Almaly",
                    languages=["kk"],
                    active=True,
                    coordinator_name="A. Sadykova",
                    coordinator_email="deputy12@example.org",
                    coordinator_locale="kk",
                    registered_at=evening,
                )
            )
            await connection.execute(
                OLD_COHORTS.insert().values(
                    id=cohort_id,
                    name="2025-2026",
                    starts_on=date(2025, 9, 1),
                    ends_on=date(2026, 6, 30),
                    open_for_enrolment=True,
                    opened_at=evening,
                )
            )
            trainer_row = {
                "school_id": school_id, "cohort_id": cohort_id, "grade": 10,
                "gender": "female", "languages": ["kk"], "enrolled_at": evening,
            }  # fmt: skip
            await connection.execute(
                OLD_TRAINERS.insert(),
                [
                    {**trainer_row, "id": stays, "status": "active", "withdrawn_at": None},
                    {
                        **trainer_row,
                        "id": left,
                        "status": "withdrawn",
                        "withdrawn_at": datetime(2026, 5, 31, 19, 0, tzinfo=UTC),
                    },
                ],
            )

        await upgrade_async(url, MIGRATIONS)

        new = sa.table("trainers", *columns("enrolled_on", "withdrawn_on", id=sa.Uuid()))
        async with engine.connect() as connection:
            rows = (await connection.execute(select(new))).all()
    finally:
        await engine.dispose()
    days = {
        row.id: (str(row.enrolled_on), row.withdrawn_on and str(row.withdrawn_on)) for row in rows
    }
    assert days == {stays: ("2026-04-01", None), left: ("2026-04-01", "2026-06-01")}
