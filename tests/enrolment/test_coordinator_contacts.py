"""A coordinator's contact is what the notification service addresses mail with: the enrolment
API accepts only names and addresses the mail library reads, and refuses the rest with a problem
that names the field, storing and publishing nothing."""

from __future__ import annotations

import json
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.support.enrolment_api import SCHOOL, outbox_count


def school_with(**coordinator: str) -> dict[str, Any]:
    return {**SCHOOL, "coordinator": {**SCHOOL["coordinator"], **coordinator}}


async def assert_refused_and_nothing_stored(
    client: httpx.AsyncClient, body: dict[str, Any], field: str, rule: str
) -> None:
    schools_before = (await client.get("/v1/schools")).json()["total"]
    outbox_before = await outbox_count(client)
    # JSON with \u escapes, as a client may send a lone surrogate that UTF-8 cannot carry.
    response = await client.post(
        "/v1/schools", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert any(e["field"] == field and e["rule"] == rule for e in problem["errors"]), problem
    assert field in problem["detail"]
    assert (await client.get("/v1/schools")).json()["total"] == schools_before
    assert await outbox_count(client) == outbox_before


@pytest.mark.parametrize(
    "email",
    [
        "zzq..x@example.org",  # two dots in a row: a defect to the mail library
        "zzq[x@example.org",
        "zzq(x@example.org",
        "zzq)x@example.org",
        "zzq@example.org(comment)",  # parsed, but reads back as zzq@example.org
        '"zzq x"@example.org',  # quoted local part with a space
        ".zzq@example.org",
        "zzq.@example.org",
        "zzq@example",  # no dot in the domain
        "zzq@[192.0.2.1]",  # an address literal, not a domain
        "zzq@example..org",
        "zzq@-example.org",
        "zzq@example.org>",
        "<zzq@example.org>",
        "zzq@example.org, other@example.org",
        "Zhanna <zzq@example.org>",
        "zzq@@example.org",
        "zzq@example.org\nBcc: everyone@example.org",
        "zzq\r@example.org",
        "zzq@example.o",
        "жанна@example.org",  # needs SMTPUTF8, which the mail service does not use
        "zzq@",
        "@example.org",
        "nope",
        "",
        "x" * 65 + "@example.org",
        "zzq@" + "d" * 250 + ".org",
    ],
)
async def test_a_coordinator_email_the_mail_library_cannot_read_is_refused(
    enrolment: httpx.AsyncClient, email: str
) -> None:
    rule = "string_too_short" if email == "" else "mail_address"
    if len(email) > 254:
        rule = "string_too_long"
    await assert_refused_and_nothing_stored(
        enrolment, school_with(email=email), "coordinator.email", rule
    )


@pytest.mark.parametrize(
    "name",
    [
        "Aigerim\nSadykova",
        "Aigerim\r\nBcc: everyone@example.org",
        "Aigerim\rSadykova",
        "Aigerim\tSadykova",
        "Aigerim\x00Sadykova",
        "Aigerim\x85Sadykova",  # NEXT LINE
        "Aigerim\u2028Sadykova",  # LINE SEPARATOR
        "Aigerim\u2029Sadykova",  # PARAGRAPH SEPARATOR
        "Aigerim\u202eavokydaS",  # RIGHT-TO-LEFT OVERRIDE
        "Aigerim\u200bSadykova",  # ZERO WIDTH SPACE
        "Aigerim\x1bSadykova",  # ESCAPE
    ],
)
async def test_a_coordinator_name_with_a_line_break_or_control_character_is_refused(
    enrolment: httpx.AsyncClient, name: str
) -> None:
    await assert_refused_and_nothing_stored(
        enrolment, school_with(name=name), "coordinator.name", "mail_display_name"
    )


async def test_a_coordinator_name_no_encoder_can_write_is_refused(
    enrolment: httpx.AsyncClient,
) -> None:
    lone_surrogate = "Aigerim\ud800Sadykova"
    await assert_refused_and_nothing_stored(
        enrolment, school_with(name=lone_surrogate), "coordinator.name", "string_unicode"
    )


GOOD_CONTACTS = [
    ("Aigerim Sadykova", "deputy12@example.org"),
    ("Айгерим Садыкова", "a.sadykova+yts@school134.edu.kz"),
    ("Әсел Нұрланқызы", "asel_nurlankyzy@mail.ru"),
    ('Sadykova, A. "Aika" (deputy)', "o'brien-x@sub.example.co.uk"),
    ("A. Sadykova", "deputy@xn--80ao21a.xn--80ao21a"),
]


@pytest.mark.parametrize(("name", "email"), GOOD_CONTACTS)
async def test_a_contact_the_mail_library_reads_is_registered_as_given(
    enrolment: httpx.AsyncClient, name: str, email: str
) -> None:
    response = await enrolment.post(
        "/v1/schools", json={**school_with(name=name, email=email), "name": f"School {email}"}
    )
    assert response.status_code == 201, response.text
    # What the notification service will do with it (yts_notifications.mail.compose).
    message = EmailMessage()
    message["To"] = Address(display_name=name, addr_spec=email)
    message.set_content("hello")
    assert f"<{email}>".encode() in message.as_bytes()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SCHOOL, "name": "School No. 12\nAlmaly"}, "name"),
        ({**SCHOOL, "name": "School No. 12\x00"}, "name"),
    ],
)
async def test_a_school_name_with_a_line_break_is_refused(
    enrolment: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    await assert_refused_and_nothing_stored(enrolment, body, field, "one_line")
