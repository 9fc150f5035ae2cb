"""Withdrawing trainers and erasing their personal data: who may, what is kept, what is
published."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.support.enrolment_api import CONSENT_DAY, outbox_count, setup_school_and_cohort, trainer


async def enrolled(client: httpx.AsyncClient, **changes: object) -> dict:
    school_id, cohort_id = await setup_school_and_cohort(client)
    response = await client.post("/v1/trainers", json=trainer(school_id, cohort_id, **changes))
    assert response.status_code == 201, response.text
    return response.json()


async def outbox_types(client: httpx.AsyncClient) -> list[str]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    table = runtime.outbox.table
    async with runtime.db.session() as session:
        rows = await session.execute(select(table.c.event_type).order_by(table.c.seq))
        return list(rows.scalars())


async def test_an_active_trainer_is_withdrawn_with_a_reason_once(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment)
    response = await enrolment.post(
        f"/v1/trainers/{dana['id']}/withdrawal", json={"reason": "moved_school"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "withdrawn"
    assert response.json()["withdrawal_reason"] == "moved_school"
    assert (await outbox_types(enrolment))[-1] == "yts.enrolment.trainer.withdrawn.v1"

    before = await outbox_count(enrolment)
    again = await enrolment.post(f"/v1/trainers/{dana['id']}/withdrawal", json={"reason": "other"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert await outbox_count(enrolment) == before


async def test_withdrawal_needs_a_reason_from_the_contract_list(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment)
    before = await outbox_count(enrolment)
    response = await enrolment.post(
        f"/v1/trainers/{dana['id']}/withdrawal", json={"reason": "bored"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"
    assert (await enrolment.get(f"/v1/trainers/{dana['id']}")).json()["status"] == "active"
    assert await outbox_count(enrolment) == before


async def test_a_withdrawn_person_can_be_enrolled_again_in_the_same_cohort(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment)
    await enrolment.post(f"/v1/trainers/{dana['id']}/withdrawal", json={"reason": "personal"})
    again = await enrolment.post("/v1/trainers", json=trainer(dana["school_id"], dana["cohort_id"]))
    assert again.status_code == 201, again.text
    assert again.json()["id"] != dana["id"]


async def test_unknown_trainer_gets_404_problem(enrolment: httpx.AsyncClient) -> None:
    missing = uuid.uuid4()
    for response in (
        await enrolment.get(f"/v1/trainers/{missing}"),
        await enrolment.post(f"/v1/trainers/{missing}/withdrawal", json={"reason": "other"}),
        await enrolment.delete(f"/v1/trainers/{missing}/personal-data"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_erasure_removes_personal_data_keeps_a_tombstone_and_publishes_once(
    enrolment: httpx.AsyncClient,
) -> None:
    dana = await enrolled(enrolment, notes="prefers evening sessions")
    response = await enrolment.delete(f"/v1/trainers/{dana['id']}/personal-data")
    assert response.status_code == 200, response.text
    tombstone = response.json()
    assert tombstone["erased"] is True
    for field in ("first_name", "last_name", "guardian_name", "guardian_consent_on", "notes"):
        assert tombstone[field] is None, field
    for field in ("id", "school_id", "cohort_id", "grade", "gender", "status"):
        assert tombstone[field] == dana[field], field
    listed = await enrolment.get("/v1/trainers", params={"school_id": dana["school_id"]})
    assert listed.json()["total"] == 1  # counts stay right

    runtime = enrolment.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        from yts_enrolment.store import Trainer

        row = await session.get(Trainer, uuid.UUID(dana["id"]))
        assert row is not None
        assert (row.first_name, row.last_name, row.guardian_name, row.notes, row.person_key) == (
            None,
            None,
            None,
            None,
            None,
        )

    types = await outbox_types(enrolment)
    assert types.count("yts.enrolment.trainer.erased.v1") == 1
    again = await enrolment.delete(f"/v1/trainers/{dana['id']}/personal-data")
    assert again.status_code == 200
    assert (await outbox_types(enrolment)).count("yts.enrolment.trainer.erased.v1") == 1


async def test_coordinators_withdraw_and_erase_only_their_own_schools_trainers(
    enrolment: httpx.AsyncClient, provisioned: str
) -> None:
    from yts_chassis.auth import Role

    from tests.support.access import token_for

    dana = await enrolled(enrolment)
    other_school, cohort_id = await setup_school_and_cohort(enrolment, name="Lyceum No. 165")
    aruzhan = (
        await enrolment.post(
            "/v1/trainers", json=trainer(other_school, cohort_id, first_name="Aruzhan")
        )
    ).json()
    own = await token_for(provisioned, Role.coordinator, uuid.UUID(dana["school_id"]))
    partner = await token_for(provisioned, Role.partner)
    as_own = {"Authorization": f"Bearer {own}"}
    as_partner = {"Authorization": f"Bearer {partner}"}

    assert (
        await enrolment.post(
            f"/v1/trainers/{aruzhan['id']}/withdrawal", json={"reason": "other"}, headers=as_own
        )
    ).status_code == 403
    assert (
        await enrolment.delete(f"/v1/trainers/{aruzhan['id']}/personal-data", headers=as_own)
    ).status_code == 403
    assert (await enrolment.get(f"/v1/trainers/{aruzhan['id']}", headers=as_own)).status_code == 403
    assert (
        await enrolment.delete(f"/v1/trainers/{dana['id']}/personal-data", headers=as_partner)
    ).status_code == 403
    assert (
        await enrolment.post(
            f"/v1/trainers/{dana['id']}/withdrawal", json={"reason": "graduated"}, headers=as_own
        )
    ).status_code == 200
    assert (
        await enrolment.delete(f"/v1/trainers/{dana['id']}/personal-data", headers=as_own)
    ).status_code == 200
    # the other school's trainer is untouched
    assert (await enrolment.get(f"/v1/trainers/{aruzhan['id']}")).json()["first_name"] == "Aruzhan"


def sqlite_files_bytes(client: httpx.AsyncClient) -> bytes:
    """Every byte SQLite keeps for enrolment's database: the file, its write-ahead log and the
    log's shared-memory index."""
    database = Path(client.app.state.runtime.db.url.database)  # type: ignore[attr-defined]
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_an_erased_trainers_personal_data_leaves_the_sqlite_files(
    enrolment: httpx.AsyncClient,
) -> None:
    if not enrolment.app.state.runtime.db.is_sqlite:  # type: ignore[attr-defined]
        pytest.skip("about SQLite's files; PostgreSQL vacuums old row versions")
    first_name, last_name, guardian_name = "Tomirisqxz", "Zhanbyrbayevaqxz", "Gulnarqxz Guardian"
    # Long notes make the erased row much shorter than the old one, so the new row does not
    # happen to overwrite the old one's bytes in its page.
    notes = "prefers-evening-sessions-qxz " + "and weekend ones " * 100
    markers = [text.encode() for text in (first_name, last_name, guardian_name, notes[:28])]
    tomiris = await enrolled(
        enrolment,
        first_name=first_name,
        last_name=last_name,
        guardian_consent={"guardian_name": guardian_name, "given_on": CONSENT_DAY},
        notes=notes,
    )
    on_disk = sqlite_files_bytes(enrolment)
    assert all(marker in on_disk for marker in markers)  # the test reads the right files

    erased = await enrolment.delete(f"/v1/trainers/{tomiris['id']}/personal-data")
    assert erased.status_code == 200, erased.text

    on_disk = sqlite_files_bytes(enrolment)
    assert [marker for marker in markers if marker in on_disk] == []
