"""A coordinator contact replaced in enrolment (``PUT /v1/schools/{id}/coordinator``) reaches
the notification service over the real nats-server: once its replica has the new contact, the
school's next mail goes to the new address, by the new name, in the new language, and the old
address gets nothing more."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
from sqlmodel import col, select
from yts_enrolment.main import create_app as create_enrolment
from yts_enrolment.settings import EnrolmentSettings
from yts_notifications.store import SchoolReplica

from tests.notifications.conftest import mails_to
from tests.support.enrolment_api import COHORT, SCHOOL, trainer
from tests.support.notifications_mailbox import MailBox
from tests.support.services import eventually, running, settings_for


async def replica_email(notifications: httpx.AsyncClient, school_id: str) -> str | None:
    runtime = notifications.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        found = await session.execute(
            select(col(SchoolReplica.email)).where(
                col(SchoolReplica.school_id) == uuid.UUID(school_id)
            )
        )
        return found.scalar_one_or_none()


async def test_the_next_mail_goes_to_the_contact_staff_put_in_place(
    provisioned: str,
    database_factory: Any,
    notifications: httpx.AsyncClient,
    mailbox: MailBox,
) -> None:
    old, new = (f"deputy-{uuid.uuid4().hex[:10]}@example.org" for _ in range(2))
    enrolment_app = create_enrolment(
        settings_for(
            EnrolmentSettings,
            nats_url=provisioned,
            database_url=await database_factory("enrolment_contacts"),
        )
    )
    async with running(enrolment_app) as enrolment:
        school = await enrolment.post(
            "/v1/schools",
            json={
                **SCHOOL,
                "name": f"School-Gymnasium No. {uuid.uuid4().hex[:6]}",
                "coordinator": {"name": "Aigerim Sadykova", "email": old, "locale": "kk"},
            },
        )
        assert school.status_code == 201, school.text
        school_id = school.json()["id"]
        cohort = await enrolment.post("/v1/cohorts", json=COHORT)
        assert cohort.status_code == 201, cohort.text
        cohort_id = cohort.json()["id"]
        first = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id))
        assert first.status_code == 201, first.text
        (before,) = await eventually(partial(mails_to, mailbox, old), timeout=20)
        assert "Aigerim Sadykova" in str(before.message["To"])

        changed = await enrolment.put(
            f"/v1/schools/{school_id}/coordinator",
            json={"name": "Dana Omarova", "email": new, "locale": "en"},
        )
        assert changed.status_code == 200, changed.text
        # The private event crosses the broker on its own stream; mail is addressed from the
        # replica, so the next enrolment waits until it has arrived.
        await eventually(lambda: _is(replica_email(notifications, school_id), new), timeout=20)
        second = await enrolment.post(
            "/v1/trainers", json=trainer(school_id, cohort_id, first_name="Aruzhan")
        )
        assert second.status_code == 201, second.text
        (after,) = await eventually(partial(mails_to, mailbox, new), timeout=20)

    assert after.rcpt_tos == [new]
    assert "Dana Omarova" in str(after.message["To"])
    assert after.subject.startswith("A young trainer has been enrolled at")
    assert mailbox.to(old) == [before]


async def _is(found: Any, expected: str) -> bool:
    return bool(await found == expected)
