"""A school's coordinator contact after registration: staff and the school's own coordinator
read it; staff replace it, checked as at registration, and the new contact is published on the
private stream in the same transaction (the notification service's replica follows it); bad
input, another school's coordinator or an unknown school change and publish nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from nats.js.client import JetStreamContext
from yts_chassis.access import Role
from yts_contracts.private import SchoolContact
from yts_contracts.streams import PRIVATE_STREAM

from tests.support.access import bearer_for
from tests.support.enrolment_api import SCHOOL, outbox_count
from tests.support.events import stream_messages
from tests.support.services import eventually

NEW_CONTACT = {"name": "Әсел Нұрланқызы", "email": "a.nurlankyzy@school12.edu.kz", "locale": "ru"}


async def registered(client: httpx.AsyncClient) -> str:
    body = {**SCHOOL, "name": f"School-Lyceum No. {uuid.uuid4().hex[:8]}"}
    response = await client.post("/v1/schools", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def contacts_published(js: JetStreamContext, school_id: str) -> list[dict[str, Any]]:
    """The contact events about one school on the private stream, oldest first."""
    messages = await stream_messages(js, PRIVATE_STREAM, SchoolContact.event_type)
    return [
        body
        for body in (json.loads(message.data) for message in messages)
        if body["school_id"] == school_id
    ]


async def test_staff_read_the_contact_given_at_registration(
    enrolment: httpx.AsyncClient,
) -> None:
    school_id = await registered(enrolment)
    response = await enrolment.get(f"/v1/schools/{school_id}/coordinator")
    assert response.status_code == 200, response.text
    assert response.json() == SCHOOL["coordinator"]


async def test_a_replaced_contact_is_returned_and_published_privately_once(
    enrolment: httpx.AsyncClient, js: JetStreamContext
) -> None:
    school_id = await registered(enrolment)
    path = f"/v1/schools/{school_id}/coordinator"
    changed = await enrolment.put(path, json=NEW_CONTACT)
    assert changed.status_code == 200, changed.text
    assert changed.json() == NEW_CONTACT
    assert (await enrolment.get(path)).json() == NEW_CONTACT
    # The same contact again changes nothing and publishes nothing more.
    again = await enrolment.put(path, json={**NEW_CONTACT, "email": f" {NEW_CONTACT['email']} "})
    assert again.json() == NEW_CONTACT

    async def both() -> list[dict[str, Any]] | None:
        found = await contacts_published(js, school_id)
        return found if len(found) >= 2 else None

    published = await eventually(both)
    assert [(c["coordinator_name"], c["email"], c["locale"]) for c in published] == [
        tuple(SCHOOL["coordinator"].values()),
        tuple(NEW_CONTACT.values()),
    ]


@pytest.mark.parametrize(
    ("contact", "field", "rule"),
    [
        ({"email": "zzq..x@example.org"}, "coordinator.email", "mail_address"),
        ({"email": "Zhanna <zzq@example.org>"}, "coordinator.email", "mail_address"),
        ({"email": "zzq@example.org\nBcc: everyone@example.org"}, "email", "mail_address"),
        ({"email": "жанна@example.org"}, "email", "mail_address"),
        ({"email": ""}, "email", "string_too_short"),
        ({"name": "Aigerim\r\nBcc: everyone@example.org"}, "name", "mail_display_name"),
        ({"name": "Aigerim\u202eavokydaS"}, "name", "mail_display_name"),
        ({"locale": "de"}, "locale", "enum"),
        ({"phone": "+7 701 000 00 00"}, "phone", "extra_forbidden"),
    ],
)
async def test_a_contact_the_mail_library_cannot_use_is_refused_and_nothing_changes(
    enrolment: httpx.AsyncClient, contact: dict[str, str], field: str, rule: str
) -> None:
    school_id = await registered(enrolment)
    path = f"/v1/schools/{school_id}/coordinator"
    outbox_before = await outbox_count(enrolment)
    field = field.removeprefix("coordinator.")
    response = await enrolment.put(path, json={**NEW_CONTACT, **contact})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
    assert field in problem["detail"]
    assert (await enrolment.get(path)).json() == SCHOOL["coordinator"]
    assert await outbox_count(enrolment) == outbox_before


async def test_only_staff_replace_a_contact_and_only_the_schools_coordinator_reads_it(
    enrolment: httpx.AsyncClient, provisioned: str
) -> None:
    school_id = await registered(enrolment)
    other_school = await registered(enrolment)
    path = f"/v1/schools/{school_id}/coordinator"
    own = await bearer_for(provisioned, Role.coordinator, uuid.UUID(school_id))
    another = await bearer_for(provisioned, Role.coordinator, uuid.UUID(other_school))
    partner = await bearer_for(provisioned, Role.partner)
    seen = await enrolment.get(path, headers=own)
    assert seen.status_code == 200
    assert seen.json() == SCHOOL["coordinator"]
    for refused in (another, partner):
        assert (await enrolment.get(path, headers=refused)).status_code == 403
    outbox_before = await outbox_count(enrolment)
    for refused in (own, another, partner):
        answer = await enrolment.put(path, json=NEW_CONTACT, headers=refused)
        assert answer.status_code == 403, answer.text
    assert (await enrolment.get(path)).json() == SCHOOL["coordinator"]
    assert await outbox_count(enrolment) == outbox_before
    # Another school's coordinator learns nothing about whether a school exists.
    unknown = f"/v1/schools/{uuid.uuid4()}/coordinator"
    assert (await enrolment.get(unknown, headers=another)).status_code == 403


async def test_an_unknown_school_has_no_contact_to_read_or_replace(
    enrolment: httpx.AsyncClient,
) -> None:
    unknown = f"/v1/schools/{uuid.uuid4()}/coordinator"
    outbox_before = await outbox_count(enrolment)
    for response in (await enrolment.get(unknown), await enrolment.put(unknown, json=NEW_CONTACT)):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await outbox_count(enrolment) == outbox_before


async def test_a_retried_replacement_with_its_idempotency_key_is_answered_again_not_redone(
    enrolment: httpx.AsyncClient, js: JetStreamContext
) -> None:
    school_id = await registered(enrolment)
    path = f"/v1/schools/{school_id}/coordinator"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await enrolment.put(path, json=NEW_CONTACT, headers=key)
    assert first.status_code == 200, first.text
    # Changed back meanwhile; the retry of the first request does not change it again.
    back = await enrolment.put(path, json=SCHOOL["coordinator"])
    assert back.status_code == 200
    outbox_before = await outbox_count(enrolment)
    retry = await enrolment.put(path, json=NEW_CONTACT, headers=key)
    assert retry.status_code == 200
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.content == first.content
    assert (await enrolment.get(path)).json() == SCHOOL["coordinator"]
    assert await outbox_count(enrolment) == outbox_before
    other = await enrolment.put(path, json={**NEW_CONTACT, "locale": "en"}, headers=key)
    assert other.status_code == 422
