"""``GET /v1/mail``: a coordinator reads the mail sent to their own school (kind, subject as the
mail says it, status, when sent) and nothing of another school's; staff read every school's."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import httpx
from nats.js.client import JetStreamContext
from yts_chassis.auth import Role
from yts_chassis.ids import new_id
from yts_contracts.milestones import MilestoneKind

from tests.notifications.conftest import mails_to
from tests.support import notifications_events as ev
from tests.support.access import bearer_for
from tests.support.notifications_mailbox import MailBox
from tests.support.services import eventually


async def listed(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/v1/mail", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_coordinator_reads_their_schools_mail_and_no_other_schools(
    notifications: httpx.AsyncClient, js: JetStreamContext, mailbox: MailBox, provisioned: str
) -> None:
    own, other = new_id(), new_id()
    own_mail, other_mail = f"own-{uuid.uuid4().hex[:8]}@example.org", "other@example.org"
    trainer = new_id()
    for school, email, name in ((own, own_mail, "Lyceum No. 7"), (other, other_mail, "No. 8")):
        await ev.publish(js, ev.school(school, name))
        await ev.publish(js, ev.contact(school, email, "en"))
    await ev.publish(js, ev.enrolled(trainer, own, grade=10))
    await ev.publish(js, ev.milestone(MilestoneKind.TRAINER_CERTIFIED, trainer))
    await ev.publish(js, ev.enrolled(new_id(), other, grade=9))
    mails = await eventually(partial(mails_to, mailbox, own_mail, 2))

    coordinator = await bearer_for(provisioned, Role.coordinator, own)

    async def both_sent() -> Any:
        found = await listed(notifications, coordinator)
        return found if [m["status"] for m in found] == ["delivered"] * 2 else None

    found = await eventually(both_sent)
    assert {m["school_id"] for m in found} == {str(own)}
    assert {m["kind"] for m in found} == {"trainer_enrolled", "trainer_certified"}
    assert {m["subject"] for m in found} == {mail.subject for mail in mails}
    assert all(m["sent_at"] for m in found)
    assert "recipient" not in found[0]
    # Another school's mail is refused, not silently emptied.
    refused = await notifications.get(
        "/v1/mail", params={"school_id": str(other)}, headers=coordinator
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    # Staff see every school's, or one school's.
    everyone = {m["school_id"] for m in await listed(notifications)}
    assert {str(own), str(other)} <= everyone
    others = await listed(notifications, school_id=str(other))
    assert {m["school_id"] for m in others} == {str(other)}
    partner = await bearer_for(provisioned, Role.partner)
    assert (await notifications.get("/v1/mail", headers=partner)).status_code == 403
