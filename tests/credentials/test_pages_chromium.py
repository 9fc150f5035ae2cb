"""The public verification pages in a real headless Chromium (Debian's, driven by
Playwright), served by the real credentials app under uvicorn: the page a certificate's QR
code opens, in kk / ru / en and on a phone's screen; the language remembered; a pasted
credential checked, a tampered one refused, an empty form answered with an error summary; and
not one request leaving the machine.

Set ``YTS_SAVE_CREDENTIALS_PICTURES=1`` to write the screenshots into docs/images (the
pictures of docs/credentials.md)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from yts_contracts import CREDENTIALS_STREAM, MilestoneKind
from yts_deploy.natsserver import free_port

from tests.support.browser import chromium, needs_chromium, served_by_uvicorn
from tests.support.credentials import Facts, credentials_app
from tests.support.events import stream_messages
from tests.support.services import ADMIN_TOKEN, eventually

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SAVE_TO_DOCS = os.environ.get("YTS_SAVE_CREDENTIALS_PICTURES") == "1"
PHONE = {"width": 390, "height": 844}

pytestmark = [needs_chromium, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def served(credentials_nats: str, issuer_state: Path, tmp_path_factory) -> Iterator[str]:
    """The real app under uvicorn on a loopback port, published at that address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path_factory.mktemp("pages-db") / "credentials.db"
    app = credentials_app(
        credentials_nats, f"sqlite+aiosqlite:///{database}", issuer_state, public_url=url
    )
    with served_by_uvicorn(app, port) as served_at:
        yield served_at


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[object]:
    async with chromium() as launched:
        yield launched


async def issued_credential(served: str, facts: Facts) -> str:
    """A certified trainer's credential id, once the served app has issued it."""
    trainer_id = str(uuid.uuid4())
    await facts.milestone(MilestoneKind.TRAINER_CERTIFIED, uuid.UUID(trainer_id))

    async def issued() -> str | None:
        messages = await stream_messages(facts.js, CREDENTIALS_STREAM, timeout=0.3)
        events = [json.loads(msg.data) for msg in messages]
        mine = [e for e in events if e.get("trainer_id") == trainer_id]
        return str(mine[0]["credential_id"]) if mine else None

    credential_id = await eventually(issued, timeout=20)
    return str(credential_id)


async def test_the_qr_code_page_says_valid_in_three_languages_on_a_phone_offline(
    served: str, browser, facts: Facts, tmp_path: Path
) -> None:
    credential_id = await issued_credential(served, facts)
    pictures = DOCS_IMAGES if SAVE_TO_DOCS else tmp_path
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        java_script_enabled=False,
        extra_http_headers={"Accept-Language": "en-GB,en;q=0.9"},
    )
    page = await context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    # Kazakh last: the browser asks for English (Accept-Language), the page must remember kk.
    verdicts = {"en": "Valid", "ru": "Действительно", "kk": "Жарамды"}
    achievements = {
        "kk": "Сертификатталған жас тренер",
        "ru": "Сертифицированный молодой тренер",
        "en": "Certified young trainer",
    }
    for lang, verdict in verdicts.items():
        answer = await page.goto(f"{served}/credentials/{credential_id}?lang={lang}")
        assert answer is not None
        assert answer.status == 200
        assert await page.get_attribute("html", "lang") == lang
        assert (await page.text_content("#verdict") or "").strip() == verdict
        assert (await page.text_content("#achievement") or "").strip() == achievements[lang]
        # Every check passed, and the page is as wide as the phone (no sideways scrolling).
        assert await page.locator(".check-passed").count() == 4
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await page.screenshot(path=str(pictures / f"verify-{lang}.png"), full_page=True)

    # The last language chosen is remembered.
    await page.goto(f"{served}/verify")
    assert await page.get_attribute("html", "lang") == "kk"
    assert all(url.startswith(served) for url in requests), requests
    await context.close()


async def test_a_pasted_credential_is_checked_and_a_tampered_one_refused(
    served: str, browser, facts: Facts, tmp_path: Path
) -> None:
    credential_id = await issued_credential(served, facts)
    async with httpx.AsyncClient(base_url=served) as client:
        token = (await client.get(f"/credentials/{credential_id}.jwt")).text
    context = await browser.new_context(
        viewport=PHONE, locale="ru-RU", extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"}
    )
    page = await context.new_page()

    await page.goto(f"{served}/verify")
    assert await page.get_attribute("html", "lang") == "ru"  # from Accept-Language
    async with page.expect_navigation() as navigation:
        await page.click("button[type=submit]")  # nothing pasted
    answered = await navigation.value
    assert answered is not None
    assert answered.status == 422
    assert await page.locator(".error-summary a[href='#credential']").count() == 1
    assert "Вставьте удостоверение" in (await page.text_content("#credential-error") or "")

    await page.fill("#credential", token)
    await page.click("button[type=submit]")
    assert (await page.text_content("#verdict") or "").strip() == "Действительно"

    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    await page.fill("#credential", tampered)
    await page.click("button[type=submit]")
    assert (await page.text_content("#verdict") or "").strip() == "Не подлинное"  # noqa: RUF001
    await page.screenshot(
        path=str((DOCS_IMAGES if SAVE_TO_DOCS else tmp_path) / "verify-tampered-ru.png"),
        full_page=True,
    )

    async with httpx.AsyncClient(base_url=served) as client:
        revoked = await client.post(
            f"/v1/credentials/{credential_id}/revocation",
            json={"reason": "issued_in_error"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        assert revoked.status_code == 200
    await page.goto(f"{served}/credentials/{credential_id}")
    assert (await page.text_content("#verdict") or "").strip() == "Отозвано"
    await context.close()
