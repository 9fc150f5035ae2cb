"""The printable certificate, put together by enrolment (where names live) from the credential
the credentials service issued: the two real apps on one nats-server, the milestone published
as sessions publishes it. The PDF is read back (pypdfium2): A4, the trainer's name, the
achievement, the partners, the verification address, in kk / ru / en; the pages are rendered
to PNG for docs/credentials.md."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pypdfium2
import pytest
from yts_chassis.access import Role
from yts_contracts import MilestoneKind
from yts_enrolment.main import create_app as create_enrolment
from yts_enrolment.settings import EnrolmentSettings

from tests.credentials.conftest import StartCredentials
from tests.support.access import bearer_for
from tests.support.credentials import Facts
from tests.support.enrolment_api import setup_school_and_cohort, trainer
from tests.support.services import eventually, running, settings_for

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
# YTS_SAVE_CREDENTIALS_PICTURES=1 writes the rendered certificates into docs/images (the
# pictures of docs/credentials.md); otherwise they go to the test's temporary folder.
SAVE_TO_DOCS = os.environ.get("YTS_SAVE_CREDENTIALS_PICTURES") == "1"
A4_POINTS = (595, 842)  # 210 x 297 mm


@pytest.fixture(scope="module")
async def enrolment(credentials_nats: str, database_factory) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(
        EnrolmentSettings,
        nats_url=credentials_nats,
        database_url=await database_factory("enrolment_certificates"),
    )
    async with running(create_enrolment(settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def issuer(start_credentials: StartCredentials) -> AsyncIterator[httpx.AsyncClient]:
    async with start_credentials("https://credentials.yts.example.kz") as client:
        yield client


async def certified_trainer(
    enrolment: httpx.AsyncClient, facts: Facts, school: str, **names: str
) -> tuple[str, str]:
    school_id, cohort_id = await setup_school_and_cohort(enrolment, school)
    created = await enrolment.post("/v1/trainers", json=trainer(school_id, cohort_id, **names))
    assert created.status_code == 201, created.text
    trainer_id = created.json()["id"]
    await facts.milestone(MilestoneKind.TRAINER_CERTIFIED, uuid.UUID(trainer_id))
    return school_id, trainer_id


async def certificates_of(enrolment: httpx.AsyncClient, trainer_id: str) -> list[dict]:
    async def listed() -> list[dict]:
        answer = await enrolment.get(f"/v1/trainers/{trainer_id}/certificates")
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    return await eventually(listed, timeout=20)


def pdf_text(pdf: bytes) -> tuple[str, tuple[int, int]]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        assert len(document) == 1
        page = document[0]
        width, height = page.get_size()
        text = page.get_textpage().get_text_range()
        return " ".join(text.split()), (round(width), round(height))
    finally:
        document.close()


def save_png(pdf: bytes, path: Path) -> None:
    document = pypdfium2.PdfDocument(pdf)
    try:
        document[0].render(scale=1.4).to_pil().save(path)
    finally:
        document.close()


async def test_a_coordinator_prints_the_certificate_in_three_languages(
    enrolment: httpx.AsyncClient,
    issuer: httpx.AsyncClient,
    facts: Facts,
    credentials_nats: str,
    tmp_path: Path,
) -> None:
    pictures = DOCS_IMAGES if SAVE_TO_DOCS else tmp_path
    names = {"first_name": "Әлия", "last_name": "Құрманғазықызы"}
    school_id, trainer_id = await certified_trainer(enrolment, facts, "School No. 77", **names)
    [listed] = await certificates_of(enrolment, trainer_id)
    assert listed["achievement"] == "certified"
    url = f"https://credentials.yts.example.kz/credentials/{listed['credential_id']}"
    assert listed["verification_url"] == url
    coordinator = await bearer_for(credentials_nats, Role.coordinator, uuid.UUID(school_id))

    expected = {
        "kk": ("Жас тренерлер мектебі", "сертификатталған жас тренер", "ЮНЕСКО"),
        "ru": ("Школа молодых тренеров", "сертифицированным молодым тренером", "ЮНЕСКО"),
        "en": ("Young Trainers' School", "certified young trainer", "UNESCO Almaty"),
    }
    for lang, words in expected.items():
        answer = await enrolment.get(
            listed["certificate_url"], params={"lang": lang}, headers=coordinator
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["cache-control"] == "no-store"
        text, size = pdf_text(answer.content)
        assert size == A4_POINTS
        assert "Әлия Құрманғазықызы" in text
        for phrase in words:
            assert phrase in text, (lang, phrase)
        assert url.replace(" ", "") in text.replace(" ", "")
        save_png(answer.content, pictures / f"certificate-{lang}.png")
        assert (pictures / f"certificate-{lang}.png").stat().st_size > 10_000

    # Without ?lang=, the trainer's first language (kk).
    default = await enrolment.get(listed["certificate_url"], headers=coordinator)
    assert "Жас тренерлер мектебі" in pdf_text(default.content)[0]


async def test_only_the_trainer_s_school_or_staff_may_print_it(
    enrolment: httpx.AsyncClient, issuer: httpx.AsyncClient, facts: Facts, credentials_nats: str
) -> None:
    _, trainer_id = await certified_trainer(enrolment, facts, "School No. 78")
    [listed] = await certificates_of(enrolment, trainer_id)
    other_school, _ = await setup_school_and_cohort(enrolment, "School No. 79")
    stranger = await bearer_for(credentials_nats, Role.coordinator, uuid.UUID(other_school))
    refused = await enrolment.get(listed["certificate_url"], headers=stranger)
    assert refused.status_code == 403
    anonymous = await enrolment.get(listed["certificate_url"], headers={"Authorization": ""})
    assert anonymous.status_code == 401
    unknown = await enrolment.get(f"/v1/trainers/{trainer_id}/certificates/{uuid.uuid4()}.pdf")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    bad_language = await enrolment.get(listed["certificate_url"], params={"lang": "de"})
    assert bad_language.status_code == 422


async def test_a_revoked_credential_has_no_certificate_and_erasure_removes_them(
    enrolment: httpx.AsyncClient, issuer: httpx.AsyncClient, facts: Facts
) -> None:
    _, trainer_id = await certified_trainer(enrolment, facts, "School No. 80")
    await facts.milestone(MilestoneKind.TRAINER_FIRST_SESSION, uuid.UUID(trainer_id))

    async def two() -> list[dict]:
        found = await certificates_of(enrolment, trainer_id)
        return found if len(found) == 2 else []

    first, second = await eventually(two, timeout=20)
    revoked = await issuer.post(
        f"/v1/credentials/{first['credential_id']}/revocation", json={"reason": "other"}
    )
    assert revoked.status_code == 200

    async def refused() -> bool:
        answer = await enrolment.get(first["certificate_url"])
        return answer.status_code == 409

    await eventually(refused, timeout=20)
    assert (await enrolment.get(second["certificate_url"])).status_code == 200

    erased = await enrolment.delete(f"/v1/trainers/{trainer_id}/personal-data")
    assert erased.status_code == 200
    assert (await enrolment.get(second["certificate_url"])).status_code == 404
    assert (await enrolment.get(f"/v1/trainers/{trainer_id}/certificates")).status_code == 404

    async def revoked_by_erasure() -> bool:
        token_gone = await issuer.get(f"/credentials/{second['credential_id']}.jwt")
        return token_gone.status_code == 404

    await eventually(revoked_by_erasure, timeout=20)
