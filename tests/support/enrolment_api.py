"""Request bodies and set-up steps of the enrolment API, shared by the tests that enrol
trainers over HTTP."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

SCHOOL: dict[str, Any] = {
    "name": "School-Gymnasium No. 12",
    "district": "Almaly",
    "languages": ["kk", "ru"],
    "coordinator": {"name": "Aigerim Sadykova", "email": "deputy12@example.org", "locale": "kk"},
}


def current_cohort() -> dict[str, str]:
    """The school year running today in the programme's calendar (Almaty), from August to
    July, so that a trainer enrolled today, the default day of an enrolment, is inside it."""
    today = datetime.now(ZoneInfo("Asia/Almaty")).date()
    first = today.year if today.month >= 8 else today.year - 1
    return {
        "name": f"{first}-{first + 1}",
        "starts_on": f"{first}-08-01",
        "ends_on": f"{first + 1}-07-31",
    }


COHORT = current_cohort()
CONSENT_DAY = (date.today() - timedelta(days=3)).isoformat()


def trainer(school_id: str, cohort_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "school_id": school_id,
        "cohort_id": cohort_id,
        "first_name": "Dana",
        "last_name": "Nurlanova",
        "grade": 10,
        "gender": "female",
        "languages": ["kk", "ru"],
        "guardian_consent": {"guardian_name": "Saule Nurlanova", "given_on": CONSENT_DAY},
    }
    body.update(changes)
    return body


async def setup_school_and_cohort(
    client: httpx.AsyncClient, name: str = "School-Gymnasium No. 12"
) -> tuple[str, str]:
    school = await client.post("/v1/schools", json={**SCHOOL, "name": name})
    assert school.status_code == 201, school.text
    cohorts = await client.get("/v1/cohorts")
    existing = [c for c in cohorts.json() if c["name"] == COHORT["name"]]
    if existing:
        return school.json()["id"], existing[0]["id"]
    cohort = await client.post("/v1/cohorts", json=COHORT)
    assert cohort.status_code == 201, cohort.text
    return school.json()["id"], cohort.json()["id"]


async def outbox_count(client: httpx.AsyncClient) -> int:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(runtime.outbox.table))
            ).scalar_one()
        )
